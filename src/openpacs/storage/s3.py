"""Blob store on S3-compatible object storage (AWS S3, MinIO, Ceph RGW, ...), with boto3.

URL: ``s3://BUCKET/PREFIX``; optional query parameters ``endpoint_url`` and ``region``
override the values passed in (``OPENPACS_S3_*``, read by ``openpacs.settings``), which
override boto3's own variables. Credentials come from boto3's
standard chain (``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``, profiles, instance
roles...). A custom endpoint (MinIO, moto, ...) is addressed path-style.

Uploads are spooled to a local staging directory first (STOW never streams straight into
S3), then ``put_file`` uploads them, multipart above 16 MiB, and removes the staged file.

``open`` returns a seekable reader that fetches byte ranges on demand with an adaptive
read-ahead window (256 KiB, doubling on sequential reads up to 8 MiB), so pydicom, the
ZIP writer and the renderers can seek through a blob without downloading all of it;
``open`` itself costs one GET, which also brings the first window (the DICOM header).
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import closing
from pathlib import Path
from typing import Any, BinaryIO, cast
from urllib.parse import parse_qs, urlparse

import boto3
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from openpacs.storage.base import BLOB_KEY_PATTERN, BlobNotFound, check_blob_key

MIB = 1024 * 1024
MULTIPART_THRESHOLD = 16 * MIB
MULTIPART_CHUNKSIZE = 16 * MIB
READ_WINDOW_MIN = 256 * 1024
READ_WINDOW_MAX = 8 * MIB
# One connection per worker thread of the server (anyio's default pool is 40) plus spare.
MAX_POOL_CONNECTIONS = 50

_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")

# Fetches ``length`` bytes from ``offset`` of one object.
Fetch = Callable[[int, int], bytes]


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _is_missing(exc: ClientError) -> bool:
    return _error_code(exc) in _MISSING_CODES


def make_client(endpoint_url: str | None = None, region: str | None = None) -> Any:
    """A thread-safe S3 client; credentials from boto3's standard chain."""
    config = Config(
        max_pool_connections=MAX_POOL_CONNECTIONS,
        retries={"max_attempts": 5, "mode": "standard"},
        connect_timeout=10,
        read_timeout=120,
        # Custom endpoints (MinIO, moto, Ceph) rarely have wildcard DNS for buckets.
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    session = boto3.session.Session()  # its own session: the default one is not thread-safe
    return session.client(
        "s3", endpoint_url=endpoint_url or None, region_name=region or None, config=config
    )


class S3BlobStore:
    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        staging_dir: Path,
        client: Any | None = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        multipart_chunksize: int = MULTIPART_CHUNKSIZE,
    ) -> None:
        if not bucket:
            raise ValueError("an s3:// storage URL needs a bucket: s3://BUCKET/PREFIX")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._key_prefix = f"{self.prefix}/" if self.prefix else ""
        self._client = client if client is not None else make_client(endpoint_url, region)
        self._staging = staging_dir
        self._staging.mkdir(parents=True, exist_ok=True)
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=4,
            use_threads=True,
        )

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        staging_dir: Path,
        endpoint_url: str | None = None,
        region: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> S3BlobStore:
        """``s3://BUCKET/PREFIX[?endpoint_url=...&region=...]``.

        Endpoint: URL query, then ``endpoint_url`` (the settings'), then boto3's variables
        ``AWS_ENDPOINT_URL_S3`` and ``AWS_ENDPOINT_URL`` (read here so that a custom
        endpoint is addressed path-style). Region: URL query, then ``region`` (the
        settings'), then boto3's own lookup (``AWS_REGION``, ``AWS_DEFAULT_REGION``, the
        config file).
        """
        env = os.environ if env is None else env
        parsed = urlparse(url)
        if parsed.scheme != "s3":
            raise ValueError(f"not an s3:// URL: {url!r}")
        query = {name: values[-1] for name, values in parse_qs(parsed.query).items()}
        endpoint = (
            query.get("endpoint_url")
            or endpoint_url
            or env.get("AWS_ENDPOINT_URL_S3")
            or env.get("AWS_ENDPOINT_URL")
        )
        region_name = query.get("region") or region
        return cls(
            parsed.netloc,
            parsed.path,
            staging_dir=staging_dir,
            endpoint_url=endpoint or None,
            region=region_name or None,
        )

    def __repr__(self) -> str:
        return f"S3BlobStore('s3://{self.bucket}/{self.prefix}')"

    def _object_key(self, key: str) -> str:
        return self._key_prefix + check_blob_key(key)

    # ------------------------------------------------------------------ writing

    def put_file(self, key: str, path: Path, *, defer_sync: bool = False) -> None:
        # An object is durable once S3 acknowledged the upload: nothing to defer.
        object_key = self._object_key(key)
        try:
            self._client.upload_file(str(path), self.bucket, object_key, Config=self._transfer)
        except (Boto3Error, BotoCoreError, ClientError) as exc:
            # An OSError, like a full disk for the filesystem store: the write path
            # answers "out of resources" and releases the reservation.
            raise OSError(f"upload to s3://{self.bucket}/{object_key} failed: {exc}") from exc
        path.unlink(missing_ok=True)

    def prepare_keys(self, keys: Iterable[str]) -> None:
        return None

    def put_bytes(self, key: str, data: bytes, *, defer_sync: bool = False) -> None:
        object_key = self._object_key(key)
        try:
            self._client.put_object(Bucket=self.bucket, Key=object_key, Body=data)
        except (Boto3Error, BotoCoreError, ClientError) as exc:
            raise OSError(f"upload to s3://{self.bucket}/{object_key} failed: {exc}") from exc

    def sync_puts(self, keys: Iterable[str]) -> None:
        return None

    def delete(self, key: str) -> None:
        object_key = self._object_key(key)
        try:
            self._client.delete_object(Bucket=self.bucket, Key=object_key)
        except ClientError as exc:
            if not _is_missing(exc):
                raise

    # ------------------------------------------------------------------ reading

    def _get(self, key: str, offset: int, length: int | None) -> dict[str, Any]:
        object_key = self._object_key(key)
        end = "" if length is None else str(offset + length - 1)
        try:
            response: dict[str, Any] = self._client.get_object(
                Bucket=self.bucket, Key=object_key, Range=f"bytes={offset}-{end}"
            )
        except ClientError as exc:
            if _is_missing(exc):
                raise BlobNotFound(key) from exc
            if _error_code(exc) == "InvalidRange":
                raise BlobNotFound(f"{key} is shorter than expected") from exc
            raise
        return response

    def _fetch(self, key: str, offset: int, length: int) -> bytes:
        response = self._get(key, offset, length)
        with closing(response["Body"]) as body:
            data = bytes(body.read())
        if not response.get("ContentRange") and len(data) > length:
            data = data[offset : offset + length]  # a server that ignored the Range header
        return data

    def open(self, key: str) -> BinaryIO:
        try:
            response = self._get(key, 0, READ_WINDOW_MIN)
        except BlobNotFound:
            # Also what a range on an empty object gives: tell the two apart.
            if self.size(key) != 0:
                raise
            return cast(BinaryIO, RangeReader(self._fetcher(key), 0, name=key))
        with closing(response["Body"]) as body:
            first = bytes(body.read())
        total = _total_size(response.get("ContentRange"), len(first))
        reader = RangeReader(self._fetcher(key), total, first=first[:READ_WINDOW_MIN], name=key)
        return cast(BinaryIO, reader)

    def _fetcher(self, key: str) -> Fetch:
        return lambda offset, length: self._fetch(key, offset, length)

    def read_range(self, key: str, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError("offset and length must not be negative")
        if length == 0:
            self.size(key)  # a missing blob is still an error
            return b""
        data = self._fetch(key, offset, length)
        if len(data) != length:
            raise BlobNotFound(f"{key} is shorter than expected")
        return data

    def iter_chunks(self, key: str, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        object_key = self._object_key(key)
        try:
            response = self._client.get_object(Bucket=self.bucket, Key=object_key)
        except ClientError as exc:
            if _is_missing(exc):
                raise BlobNotFound(key) from exc
            raise
        body = response["Body"]
        try:
            for chunk in body.iter_chunks(chunk_size):
                if chunk:
                    yield bytes(chunk)
        finally:
            body.close()

    def size(self, key: str) -> int:
        object_key = self._object_key(key)
        try:
            response = self._client.head_object(Bucket=self.bucket, Key=object_key)
        except ClientError as exc:
            if _is_missing(exc):
                raise BlobNotFound(key) from exc
            raise
        return int(response["ContentLength"])

    def local_path(self, key: str) -> Path | None:
        check_blob_key(key)
        return None

    def staging_dir(self) -> Path:
        return self._staging

    def iter_keys(self) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key_prefix):
            for item in page.get("Contents", ()):
                key = str(item["Key"])[len(self._key_prefix) :]
                if BLOB_KEY_PATTERN.match(key):
                    yield key


def _total_size(content_range: str | None, received: int) -> int:
    """The object size from ``Content-Range: bytes 0-N/TOTAL`` (whole body when absent)."""
    if content_range:
        match = _CONTENT_RANGE.match(content_range.strip())
        if match and match.group(3) != "*":
            return int(match.group(3))
    return received


class RangeReader(io.BufferedIOBase):
    """A read-only, seekable file object over ranged GETs.

    Keeps one window of the blob in memory. A read outside the window fetches a new
    one from the read position: ``READ_WINDOW_MIN`` bytes after a seek, doubling while
    reads stay sequential up to ``READ_WINDOW_MAX``; a read larger than the window is
    fetched in one request of exactly that size.
    """

    def __init__(
        self,
        fetch: Fetch,
        size: int,
        *,
        first: bytes = b"",
        name: str = "",
        min_window: int = READ_WINDOW_MIN,
        max_window: int = READ_WINDOW_MAX,
    ) -> None:
        super().__init__()
        self._fetch = fetch
        self._size = size
        self._pos = 0
        self._buf = first
        self._buf_start = 0
        self._min_window = min_window
        self._max_window = max_window
        self._window = min_window
        self.name = name

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self._size + offset
        else:
            raise ValueError(f"invalid whence ({whence})")
        if target < 0:
            raise OSError(22, "negative seek position")
        self._pos = target
        return target

    def read(self, size: int | None = -1) -> bytes:
        self._check_open()
        end = self._size if size is None or size < 0 else min(self._size, self._pos + size)
        if self._pos >= end:
            return b""
        parts: list[bytes] = []
        while self._pos < end:
            buf_end = self._buf_start + len(self._buf)
            if self._buf_start <= self._pos < buf_end:
                start = self._pos - self._buf_start
                piece = self._buf[start : start + (end - self._pos)]
            else:
                piece = self._fill(end - self._pos)
            parts.append(piece)
            self._pos += len(piece)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def _fill(self, need: int) -> bytes:
        sequential = self._pos == self._buf_start + len(self._buf)
        if sequential:
            self._window = min(self._window * 2, self._max_window)
        else:
            self._window = self._min_window
        length = min(max(need, self._window), self._size - self._pos)
        data = self._fetch(self._pos, length)
        if len(data) != length:
            raise BlobNotFound(f"{self.name or 'blob'} is shorter than expected")
        if length <= self._max_window:
            self._buf, self._buf_start = data, self._pos
        else:  # a large read: the caller holds it, do not keep a second reference
            self._buf, self._buf_start = b"", self._pos + length
        return data if length == need else data[:need]

    def close(self) -> None:
        self._buf = b""
        super().close()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")
