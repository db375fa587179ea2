"""TCP_NODELAY on every DICOM connection.

A DIMSE message is written as several PDUs (the command, then the data set). With
Nagle's algorithm on, the second small write waits for the peer's acknowledgement of
the first, which the peer delays by up to 40 ms: a C-FIND answer or a C-STORE response
would then take tens of milliseconds for nothing. pynetdicom leaves the option off.
"""

from __future__ import annotations

import contextlib
import socket

from pynetdicom import evt

__all__ = ["no_delay", "no_delay_on_open"]


def no_delay(sock: socket.socket | None) -> None:
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def no_delay_on_open(event: evt.Event) -> None:
    """EVT_CONN_OPEN of an association we request (C-MOVE, storage commitment)."""
    transport = getattr(event.assoc.dul, "socket", None)
    no_delay(getattr(transport, "socket", None))
