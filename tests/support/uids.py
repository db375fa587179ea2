"""Test files edited: without Study/Series Instance UIDs, as old modalities and test sets
send them, or with attributes added."""

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


def with_elements(data: bytes, **values: object) -> bytes:
    """The Part-10 file ``data`` with these attributes (keyword=value) set."""
    ds = dcmread(io.BytesIO(data))
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    out = io.BytesIO()
    dcmwrite(out, ds, enforce_file_format=False)
    return out.getvalue()
