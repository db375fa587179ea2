"""Pick the blob store from a storage URL (file:// by default, or s3://BUCKET/PREFIX)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from openpacs.settings import Settings
from openpacs.storage.base import BlobStore
from openpacs.storage.filesystem import FilesystemBlobStore


def open_blob_store(
    url: str,
    *,
    staging_dir: Path | None = None,
    s3_endpoint_url: str | None = None,
    s3_region: str | None = None,
) -> BlobStore:
    """The blob store for ``url``.

    ``staging_dir`` is where a remote store spools uploads (the filesystem store keeps its
    own, on the same filesystem as the blobs, and ignores it); without it, DATA_DIR/staging
    from ``OPENPACS_DATA_DIR``. ``s3_endpoint_url`` and ``s3_region`` (from the settings)
    apply to ``s3://`` URLs; the URL's own ``?endpoint_url=...&region=...`` win over them.
    """
    parsed = urlparse(url)
    if parsed.scheme in {"", "file"}:
        return FilesystemBlobStore(Path(unquote(parsed.path)))
    if parsed.scheme == "s3":
        from openpacs.storage.s3 import S3BlobStore  # boto3 is only imported when used

        return S3BlobStore.from_url(
            url,
            staging_dir=staging_dir or _default_staging_dir(),
            endpoint_url=s3_endpoint_url,
            region=s3_region,
        )
    raise ValueError(
        f"unsupported storage URL scheme {parsed.scheme!r} (use file:// or s3://BUCKET/PREFIX)"
    )


def _default_staging_dir() -> Path:
    return Path(os.environ.get("OPENPACS_DATA_DIR") or "openpacs-data") / "staging"


def blob_store_for(settings: Settings) -> BlobStore:
    """The configured blob store of a server or admin command."""
    return open_blob_store(
        settings.effective_storage_url,
        staging_dir=settings.staging_dir,
        s3_endpoint_url=settings.s3_endpoint_url or None,
        s3_region=settings.s3_region or None,
    )
