"""Files without Study/Series Instance UIDs, as old modalities and test sets send them."""

from __future__ import annotations

import io

from pydicom import dcmread, dcmwrite


def without(data: bytes, *keywords: str) -> bytes:
    """The Part-10 file ``data`` with these attributes removed (not just emptied)."""
    ds = dcmread(io.BytesIO(data))
    for keyword in keywords:
        delattr(ds, keyword)
    out = io.BytesIO()
    dcmwrite(out, ds, enforce_file_format=False)
    return out.getvalue()
