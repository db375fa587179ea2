"""The HTTP/1.1 connection protocol: uvicorn's (httptools) with a check of chunk sizes.

A chunked request announces each chunk's size on a line of its own before sending it.
httptools accepts any size that fits 64 bits, so ``ffffffffffffffff`` makes the server
wait for 16 EiB that never come: the request hangs until the client gives up. The
parser tells when a chunk header was read (``on_chunk_header``) but not the size, so
:class:`GuardedHttpToolsProtocol` reads it back from the bytes it fed the parser: a chunk
that is still open when a feed ends received every byte after its size line, so that
line ends exactly ``len(data) - bytes_after_header`` into the feed. A size beyond what a
request may send at all (``OPENPACS_MAX_REQUEST_BYTES``) is answered at once, 413 (400
when it is beyond any integer a client could mean), and the connection is closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from openpacs.web.errors import ascii_reason

#: A chunk size at or beyond this is not a size but an overflow (or an attack).
OVERFLOW = 1 << 63
# Enough of the previous feed to hold a size line cut across two feeds (hex digits, an
# extension, the CRLF); a longer line is not a size anyone sends.
_TAIL = 256
_PHRASES = {400: b"Bad Request", 413: b"Content Too Large"}


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """See the module docstring; ``max_request_bytes`` is set by :func:`http_protocol`."""

    max_request_bytes = OVERFLOW

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._chunk_open = False  # a chunk header was read and its chunk did not end
        self._header_in_feed = False  # ... and that header was read in the current feed
        self._after_header = 0  # body bytes delivered since that header
        self._tail = b""

    def data_received(self, data: bytes) -> None:
        self._header_in_feed = False
        super().data_received(data)
        if self._header_in_feed and self._chunk_open and not self.transport.is_closing():
            end = len(data) - self._after_header
            size = chunk_size(self._tail + data[:end])
            if size is not None and size > self.max_request_bytes:
                self._refuse(size)
                return
        self._tail = data[-_TAIL:]

    def on_chunk_header(self) -> None:
        self._chunk_open = True
        self._header_in_feed = True
        self._after_header = 0

    def on_chunk_complete(self) -> None:
        self._chunk_open = False
        self._header_in_feed = False

    def on_body(self, body: bytes) -> None:
        if self._chunk_open:
            self._after_header += len(body)
        super().on_body(body)

    def send_400_response(self, msg: str) -> None:
        """What the parser refuses (a raw non-ASCII byte in the path, broken framing...)
        is answered in the house shape, with the reason in ``X-Error-Reason``."""
        self._answer(
            400,
            "the request is not valid HTTP/1.1 (characters HTTP does not allow in the request "
            "line or a header, or a broken body framing)",
        )

    def _refuse(self, size: int) -> None:
        if size >= OVERFLOW:
            self._answer(400, f"the chunk size {size:x} overflows: not a size a request can have")
        else:
            self._answer(
                413,
                f"a chunk of {size} bytes is larger than the limit of {self.max_request_bytes} "
                "bytes for a request (OPENPACS_MAX_REQUEST_BYTES)",
            )

    def _answer(self, status: int, reason: str) -> None:
        """Write the error answer straight to the connection and close it."""
        phrase = _PHRASES[status]
        cycle = self.cycle
        if cycle is not None and cycle.response_started:
            self.transport.close()  # an answer is already going out: only stop
            return
        line = ascii_reason(reason)
        body = orjson.dumps({"Error": line, "Status": status})
        head = [b"HTTP/1.1 %d %s\r\n" % (status, phrase)]
        head += [
            name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers
        ]
        head += [
            b"x-error-reason: " + line.encode("ascii") + b"\r\n",
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
        if cycle is not None:
            # The request's handler sees the client gone: nothing more it sends goes out.
            cycle.disconnected = True
            cycle.message_event.set()


def chunk_size(buffer: bytes) -> int | None:
    """The size on the last line of ``buffer`` (which ends with that line's CRLF), or None
    when that line is not a chunk size (hex digits, optionally ``;extensions``)."""
    line_end = len(buffer) - 1 if buffer.endswith(b"\n") else len(buffer)
    start = buffer.rfind(b"\n", 0, line_end) + 1
    text = buffer[start:line_end].rstrip(b"\r").split(b";", 1)[0].strip()
    try:
        return int(text, 16) if text else None
    except ValueError:
        return None


def http_protocol(max_request_bytes: int) -> type[asyncio.Protocol]:
    """The protocol class for ``uvicorn.Config(http=...)`` with the request limit set."""
    return type(
        "HttpProtocol", (GuardedHttpToolsProtocol,), {"max_request_bytes": max_request_bytes}
    )


def server_config(app: Any, max_request_bytes: int, log_level: str, **options: Any) -> Config:
    """uvicorn's configuration of an openpacs process (``options``: host, port, lifespan).

    No WebSocket protocol: nothing here speaks it, and loading uvicorn's implementation
    (the ``websockets`` package) cost every start about 20 ms.
    """
    return Config(
        app,
        access_log=False,
        log_level=log_level,
        http=http_protocol(max_request_bytes),
        ws="none",
        **options,
    )
