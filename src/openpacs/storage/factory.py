"""Pick the blob store from a storage URL (file:// by default, or s3://BUCKET/PREFIX)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from openpacs.settings import Settings, settings_from_env
from openpacs.storage.base import BlobStore
from openpacs.storage.filesystem import FilesystemBlobStore


def open_blob_store(
    url: str, settings: Settings | None = None, *, staging_dir: Path | None = None
) -> BlobStore:
    """The blob store for ``url``.

    An ``s3://`` URL takes its endpoint and region from ``settings`` (the URL's own
    ``?endpoint_url=...&region=...`` win over them) and spools uploads to
    ``staging_dir``, by default the settings' staging directory; the filesystem store
    keeps its own, on the same filesystem as the blobs. Without ``settings`` they are the
    environment's, read through the one table (:func:`settings_from_env`): the command
    line's ``admin migrate-storage`` opens its stores so.
    """
    parsed = urlparse(url)
    if parsed.scheme in {"", "file"}:
        return FilesystemBlobStore(Path(unquote(parsed.path)))
    if parsed.scheme == "s3":
        from openpacs.storage.s3 import S3BlobStore  # boto3 is only imported when used

        settings = settings or settings_from_env()
        return S3BlobStore.from_url(
            url,
            staging_dir=staging_dir or settings.staging_dir,
            endpoint_url=settings.s3_endpoint_url or None,
            region=settings.s3_region or None,
        )
    raise ValueError(
        f"unsupported storage URL scheme {parsed.scheme!r} (use file:// or s3://BUCKET/PREFIX)"
    )


def blob_store_for(settings: Settings) -> BlobStore:
    """The configured blob store of a server or admin command."""
    return open_blob_store(settings.effective_storage_url, settings)
