"""DICOM peers: which account, institution and equipment an association acts for.

A DICOM association carries no password: its calling AE title is the credential, as in
every PACS. The title must be the AE title of an equipment of an account; the
association then acts for that account (a :class:`Principal` without a user, carrying
the equipment), and everything it stores or sees is that account's. With
``OPENPACS_DICOM_CHECK_HOST`` the peer's address must also be the equipment's host, and
then two accounts may use the same title on different hosts.

The equipment table is read on every association, never cached, so that adding, changing
or removing an equipment takes effect at the next association without a restart (one
indexed look-up per association).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass

from openpacs.index.db import Database
from openpacs.index.directory_rows import accounts_titled, equipment_titled, listening_equipment
from openpacs.index.models import Equipment
from openpacs.services.principal import Principal

log = logging.getLogger("openpacs.dimse")

__all__ = [
    "Destination",
    "Peer",
    "UnknownPeer",
    "accounts_using",
    "destination_of",
    "find_destination",
    "host_matches",
    "identify",
]


class UnknownPeer(LookupError):
    """The calling AE title (from that address) is no equipment's: the association is
    rejected with "calling AE title not recognised"; the message says why."""


@dataclass(frozen=True)
class Peer:
    """The equipment an association acts for, and the principal it acts as."""

    principal: Principal
    equipment_uuid: str
    name: str


@dataclass(frozen=True)
class Destination:
    """Where an equipment listens (a C-MOVE destination, a storage commitment report)."""

    ae_title: str
    host: str
    port: int


def identify(db: Database, calling_ae: str, address: str, *, check_host: bool) -> Peer:
    """The peer of an association from ``address`` calling itself ``calling_ae``."""
    title = calling_ae.strip()
    with db.session() as session:
        rows = equipment_titled(session, title)
    if not rows:
        raise UnknownPeer(f"calling AE title {title!r} is no registered equipment's")
    if check_host:
        rows = [e for e in rows if host_matches(e.host, address)]
        if not rows:
            raise UnknownPeer(
                f"calling AE title {title!r} is registered, but not for address {address}"
            )
    if len({e.account_id for e in rows}) > 1:
        raise UnknownPeer(
            f"calling AE title {title!r} belongs to equipment of several accounts; "
            "give them hosts and set OPENPACS_DICOM_CHECK_HOST=true"
        )
    equipment = rows[0]
    principal = Principal(
        account_id=equipment.account_id,
        ae_title=title,
        equipment_id=equipment.id,
        institution_id=equipment.institution_id,
    )
    return Peer(principal, equipment.uuid, equipment.name)


def accounts_using(db: Database, ae_title: str) -> list[int]:
    """The accounts with an equipment of this AE title (to audit a rejection there)."""
    with db.session() as session:
        return accounts_titled(session, ae_title.strip())


def find_destination(db: Database, account_id: int, ae_title: str) -> Destination | None:
    """The account's equipment with this AE title that has a host and a port (None when
    there is none: an unknown C-MOVE destination, A801)."""
    title = ae_title.strip()
    with db.session() as session:
        equipment = listening_equipment(session, account_id, title)
        if equipment is None or equipment.port is None:
            return None
        return Destination(title, equipment.host, equipment.port)


def destination_of(db: Database, equipment_id: int) -> Destination | None:
    """Where the equipment ``equipment_id`` listens, if it has a host and a port."""
    with db.session() as session:
        equipment = session.get(Equipment, equipment_id)
        if equipment is None or not equipment.host or equipment.port is None:
            return None
        return Destination(equipment.ae_title, equipment.host, equipment.port)


def host_matches(host: str, address: str) -> bool:
    """True when the peer ``address`` is ``host``: the same address (an IPv4 address and
    its IPv4-mapped IPv6 form are the same), or one the host name resolves to."""
    host = host.strip()
    if not host:
        return False
    peer = _address(address)
    if peer is None:
        return False
    literal = _address(host)
    if literal is not None:
        return literal == peer
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        log.warning("cannot resolve equipment host %r", host)
        return False
    return any(_address(str(info[4][0])) == peer for info in infos)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        parsed = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return parsed.ipv4_mapped
    return parsed
