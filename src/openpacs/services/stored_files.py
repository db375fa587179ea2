"""Reading an instance's stored file, with one answer when it is not there any more.

The index says where each instance's file is (``InstanceRef.blob_key``). A file that is
missing, or shorter than when it was stored, is the archive's fault (a lost disk, a
manual deletion, a racing delete): it is logged with its blob key and raised as
:class:`~openpacs.services.errors.StoredFileError`, which every face reports the same
way (HTTP 500 with the reason, or a cut-off stream). Everything here blocks: run it in a
worker thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from openpacs.services.errors import StoredFileError
from openpacs.services.retrieve import InstanceRef
from openpacs.storage.base import BlobNotFound, BlobStore

log = logging.getLogger("openpacs.wado")

SHORTER = "damaged (shorter than when it was stored)"


@contextmanager
def stored_file(ref: InstanceRef) -> Iterator[None]:
    """Turn "the blob is not there" inside the block into a logged StoredFileError."""
    try:
        yield
    except (BlobNotFound, FileNotFoundError):
        log.error("stored file of instance %s is missing (blob %s)", ref.sop_uid, ref.blob_key)
        raise StoredFileError(ref.sop_uid) from None


def open_stored(blobs: BlobStore, ref: InstanceRef) -> BinaryIO:
    """The instance's file, open for reading (the caller closes it)."""
    with stored_file(ref):
        return blobs.open(ref.blob_key)


def check_stored(blobs: BlobStore, ref: InstanceRef) -> None:
    """StoredFileError unless the instance's file exists."""
    with stored_file(ref):
        blobs.size(ref.blob_key)


def read_stored_range(blobs: BlobStore, ref: InstanceRef, offset: int, length: int) -> bytes:
    """``length`` bytes at ``offset`` (a frame or a bulk data value, as stored)."""
    with stored_file(ref):
        try:
            return blobs.read_range(ref.blob_key, offset, length)
        except (BlobNotFound, FileNotFoundError):
            blobs.size(ref.blob_key)  # raises BlobNotFound if the file is gone altogether
    log.error("stored file of instance %s is damaged (blob %s)", ref.sop_uid, ref.blob_key)
    raise StoredFileError(ref.sop_uid, SHORTER)
