"""Helpers for the WADO-RS end-to-end tests: the corpus loaded once, multipart splitting,
and what pydicom itself says a file's frames and bulk data are (the test oracle)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pydicom
from dicomweb_client.api import DICOMwebClient
from dicomweb_client.session_utils import create_session_from_auth
from pydicom.encaps import generate_frames
from pydicom.uid import UID
from requests.auth import HTTPBasicAuth
from sqlalchemy import select

from openpacs.index.db import Database
from openpacs.index.models import Account, Instance
from tests.support.server import ServerProcess, TestAccount
from tests.support.stow import referenced_uids, stow

EVLE = "1.2.840.10008.1.2.1"
NATIVE_LE = {"1.2.840.10008.1.2", EVLE}
NODE_ACCEPT = "application/json, text/plain, */*"


@dataclass(frozen=True)
class Stored:
    path: Path
    data: bytes
    account: TestAccount
    study: str
    series: str
    sop: str
    transfer_syntax: str

    @property
    def name(self) -> str:
        return self.path.name

    def url(self, server: ServerProcess) -> str:
        return f"{server.dicomweb}/studies/{self.study}/series/{self.series}/instances/{self.sop}"


def dicomweb_client(server: ServerProcess, account: TestAccount) -> DICOMwebClient:
    session = create_session_from_auth(HTTPBasicAuth(*account.auth))
    return DICOMwebClient(url=server.dicomweb, session=session)


def load_corpus(server: ServerProcess, corpus_dir: Path) -> list[Stored]:
    """Store every corpus file, spreading the files over as many accounts as needed so
    that no account gets two files with the same SOP Instance UID (the corpus holds one
    instance in several transfer syntaxes); one STOW request per account. Files that STOW
    rejects are left out."""
    groups: list[list[tuple[Path, pydicom.Dataset]]] = []
    for path in sorted(corpus_dir.glob("*.dcm")):
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
            sop = str(ds.SOPInstanceUID)
        except Exception:  # noqa: S112 - not DICOM enough to name: STOW rejects it anyway
            continue
        group = next((g for g in groups if all(str(d.SOPInstanceUID) != sop for _, d in g)), None)
        if group is None:
            group = []
            groups.append(group)
        group.append((path, ds))
    stored: list[Stored] = []
    for group in groups:
        account = server.create_account()
        response = stow(server.dicomweb, account.auth, [path.read_bytes() for path, _ in group])
        assert response.status_code in (200, 202, 400, 409), response.text  # 4xx: all failed
        accepted = set(referenced_uids(response.json()))
        for path, ds in group:
            if str(ds.SOPInstanceUID) in accepted:
                stored.append(
                    Stored(
                        path,
                        path.read_bytes(),
                        account,
                        str(ds.StudyInstanceUID),
                        str(ds.SeriesInstanceUID),
                        str(ds.SOPInstanceUID),
                        str(ds.file_meta.TransferSyntaxUID),
                    )
                )
    return stored


def split_multipart(response: httpx.Response) -> list[tuple[dict[str, str], bytes]]:
    """Parts of a multipart/related response (an independent, minimal parser)."""
    content_type = response.headers["content-type"]
    assert content_type.startswith("multipart/related"), content_type
    boundary = ""
    for param in content_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "boundary":
            boundary = value.strip('"')
    assert boundary
    body = response.content
    delimiter = b"\r\n--" + boundary.encode()
    assert body.startswith(b"--" + boundary.encode())
    body = b"\r\n" + body
    assert body.endswith(delimiter + b"--\r\n"), body[-80:]
    chunks = body[: -len(delimiter + b"--\r\n")].split(delimiter)[1:]
    parts = []
    for chunk in chunks:
        head, _, content = chunk[2:].partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode().split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        parts.append((headers, content))
    return parts


def _native_frame_size(ds: pydicom.Dataset) -> int:
    bits = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1))
    bits *= int(ds.BitsAllocated)
    if ds.get("PhotometricInterpretation") == "YBR_FULL_422":
        bits = bits * 2 // 3
    return (bits + 7) // 8


def expected_frames(item: Stored) -> list[bytes] | None:
    """Uncompressed frames as pydicom sees them (None: no pixels or pydicom cannot decode).

    Native little endian: the frame's bytes as stored; otherwise pydicom's decoded array
    in little-endian order.
    """
    ds = pydicom.dcmread(item.path)
    if "PixelData" not in ds:
        return None
    n = int(ds.get("NumberOfFrames", 1) or 1)
    if item.transfer_syntax in NATIVE_LE:
        size = _native_frame_size(ds)
        return [ds.PixelData[i * size : (i + 1) * size] for i in range(n)]
    try:
        arr = ds.pixel_array
    except Exception:
        return None
    frames = arr if n > 1 else arr[np.newaxis]
    return [np.ascontiguousarray(f, dtype=f.dtype.newbyteorder("<")).tobytes() for f in frames]


def stored_compressed_frames(item: Stored) -> list[bytes]:
    ds = pydicom.dcmread(item.path)
    n = int(ds.get("NumberOfFrames", 1) or 1)
    return list(generate_frames(ds.PixelData, number_of_frames=n))


def is_encapsulated(item: Stored) -> bool:
    return UID(item.transfer_syntax).is_encapsulated


def element_value(item: Stored, path: str) -> bytes:
    """The value pydicom reads at a bulk data path like ``54000100/0/54001010``."""
    ds = pydicom.dcmread(item.path)
    steps = path.split("/")
    current = ds
    for i in range(0, len(steps) - 1, 2):
        current = current[int(steps[i], 16)].value[int(steps[i + 1])]
    element = current[int(steps[-1], 16)]
    value = element.value
    assert isinstance(value, bytes)
    if not ds.is_little_endian and element.VR in ("OW", "OF", "OL", "OD", "OV"):
        width = {"OW": 2, "OF": 4, "OL": 4, "OD": 8, "OV": 8}[element.VR]
        value = np.frombuffer(value, f">u{width}").astype(f"<u{width}").tobytes()
    return value


def bulk_uris(meta: object, out: list[str] | None = None) -> list[str]:
    out = [] if out is None else out
    if isinstance(meta, dict):
        for key, value in meta.items():
            if key == "BulkDataURI":
                out.append(value)
            else:
                bulk_uris(value, out)
    elif isinstance(meta, list):
        for value in meta:
            bulk_uris(value, out)
    return out


def blob_path(server: ServerProcess, account: TestAccount, sop: str) -> Path:
    db = Database(server.database_url)
    try:
        with db.session() as session:
            key = session.scalar(
                select(Instance.blob_key)
                .join(Account, Account.id == Instance.account_id)
                .where(Account.uuid == account.account_uuid, Instance.sop_instance_uid == sop)
            )
    finally:
        db.dispose()
    assert key is not None
    return server.data_dir / "blobs" / key
