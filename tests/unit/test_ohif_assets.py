"""Which copy of a viewer file is sent: the gzip copy exactly when Accept-Encoding allows
gzip, read by the one parser the DICOMweb face uses too (``protocol.accept``)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from starlette.requests import Request

from openpacs.ohif.bundle import Asset
from openpacs.web.ohif.assets import asset_response


def request(accept_encoding: str | None) -> Request:
    headers = [] if accept_encoding is None else [(b"accept-encoding", accept_encoding.encode())]
    return Request({"type": "http", "method": "GET", "path": "/app.js", "headers": headers})


@pytest.mark.parametrize(
    ("accept_encoding", "compressed"),
    [
        (None, False),
        ("gzip", True),
        ("gzip;q=0", False),
        ("gzip; q=0.000", False),
        ("*", True),
        ("br, *;q=0.5", True),
        ("*, gzip;q=0", False),
        ("identity", False),
    ],
)
def test_the_gzip_copy_goes_to_clients_that_accept_it(
    tmp_path: Path, accept_encoding: str | None, compressed: bool
) -> None:
    plain, packed = tmp_path / "app.js", tmp_path / "app.js.gz"
    plain.write_bytes(b"console.log(1)")
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    asset = Asset(plain, packed, "text/javascript", True, '"e1"', plain.stat().st_size)
    response = asset_response(request(accept_encoding), asset)
    assert response.path == (packed if compressed else plain)  # type: ignore[attr-defined]
    assert ("content-encoding" in response.headers) is compressed
    assert response.headers["vary"] == "Accept-Encoding"
