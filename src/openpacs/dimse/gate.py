"""Who may associate: the called AE title must be ours, the calling one an equipment's.

pynetdicom checks a fixed list of calling AE titles; ours changes while the server runs
(``openpacs admin add-equipment``) and decides the account, so the check is made per
association in the ACSE negotiation: :class:`GatedACSE` looks the peer up before the
presentation contexts are negotiated and rejects the association (A-ASSOCIATE-RJ,
permanent, "calling AE title not recognised" or "called AE title not recognised") or
remembers the peer for the handlers. Every decision is recorded (see ``trail.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import cast

from pynetdicom import evt
from pynetdicom.acse import ACSE
from pynetdicom.association import Association
from pynetdicom.pdu_primitives import A_ASSOCIATE

from openpacs.dimse.contexts import contexts_for
from openpacs.services.peers import Peer, UnknownPeer

log = logging.getLogger("openpacs.dimse")

__all__ = ["GatedACSE", "Refused", "Verdict", "judge"]

# A-ASSOCIATE-RJ (result, source, diagnostic): PS3.8 9.3.4.
CALLING_AE_NOT_RECOGNISED = (0x01, 0x01, 0x03)
CALLED_AE_NOT_RECOGNISED = (0x01, 0x01, 0x07)
TRANSIENT_NO_REASON = (0x02, 0x01, 0x01)


class Refused(Exception):
    """The association is rejected with ``rejection`` (result, source, diagnostic)."""

    def __init__(self, reason: str, rejection: tuple[int, int, int]) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rejection = rejection


#: Decides on an association request: (called AE, calling AE, peer address) -> the
#: peer, or Refused.
Verdict = Callable[[str, str, str], Peer]


def judge(
    own_ae_title: str, identify: Callable[[str, str], Peer]
) -> Callable[[str, str, str], Peer]:
    """The verdict of a node whose AE title is ``own_ae_title``; ``identify(calling,
    address)`` finds the peer (raising UnknownPeer)."""

    def verdict(called: str, calling: str, address: str) -> Peer:
        if called.strip() != own_ae_title:
            raise Refused(
                f"called AE title {called.strip()!r} is not this server's ({own_ae_title})",
                CALLED_AE_NOT_RECOGNISED,
            )
        try:
            return identify(calling, address)
        except UnknownPeer as exc:
            raise Refused(str(exc), CALLING_AE_NOT_RECOGNISED) from None
        except Exception:
            log.exception("cannot look up calling AE title %r", calling)
            raise Refused("the equipment could not be looked up", TRANSIENT_NO_REASON) from None

    return verdict


class GatedACSE(ACSE):
    """The ACSE of an accepted connection: the verdict first, then pynetdicom's own
    negotiation (presentation contexts, roles, association limit)."""

    def __init__(
        self,
        assoc: Association,
        verdict: Verdict,
        admitted: Callable[[Association, Peer], None],
        refused: Callable[[Association, str, str, Refused], None],
    ) -> None:
        super().__init__(assoc)
        self._verdict = verdict
        self._admitted = admitted
        self._refused = refused

    def _negotiate_as_acceptor(self) -> None:
        request = cast(A_ASSOCIATE, self.requestor.primitive)
        calling = str(request.calling_ae_title or "").strip()
        called = str(request.called_ae_title or "").strip()
        address = self.assoc.requestor.address if self.assoc.requestor.address_info else ""
        try:
            peer = self._verdict(called, calling, address)
        except Refused as refusal:
            self._refused(self.assoc, calling, address, refusal)
            self.requestor.ae_title = calling
            self.send_reject(*refusal.rejection)
            evt.trigger(self.assoc, evt.EVT_REJECTED, {})
            self.assoc.kill()
            return
        self._admitted(self.assoc, peer)
        self.acceptor.supported_contexts = contexts_for(
            request.presentation_context_definition_list
        )
        super()._negotiate_as_acceptor()
