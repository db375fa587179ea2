"""Building STOW-RS requests in tests (independently of the SDK under test)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import httpx

BOUNDARY = "openpacs-test-boundary-7d1e"


def multipart_body(parts: Iterable[bytes], boundary: str = BOUNDARY) -> bytes:
    out = bytearray()
    for part in parts:
        out += f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        out += part + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


def stow(
    url: str, auth: tuple[str, str], parts: Iterable[bytes], *, path: str = "/studies"
) -> httpx.Response:
    return httpx.post(
        url + path,
        content=multipart_body(parts),
        headers={
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={BOUNDARY}',
            "Accept": "application/dicom+json",
        },
        auth=auth,
        timeout=120,
    )


def stow_files(url: str, auth: tuple[str, str], files: Iterable[Path]) -> httpx.Response:
    return stow(url, auth, [f.read_bytes() for f in files])


def referenced_uids(body: dict[str, object]) -> list[str]:
    seq = body.get("00081199", {})
    items = seq.get("Value", []) if isinstance(seq, dict) else []
    return [item["00081155"]["Value"][0] for item in items]


def failed_items(body: dict[str, object]) -> list[dict[str, object]]:
    seq = body.get("00081198", {})
    return list(seq.get("Value", [])) if isinstance(seq, dict) else []
