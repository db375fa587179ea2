"""Defaults of the SDK and the command line, importable without loading either."""

from __future__ import annotations

DEFAULT_BATCH_SIZE = 20
"""Files per STOW-RS request."""

DEFAULT_CONCURRENCY = 4
"""STOW-RS requests in flight at once."""

DEFAULT_TIMEOUT = 120.0
"""Seconds per network operation of the command line."""

EXAMPLE_URL = "http://127.0.0.1:8080/dicomweb"
"""The DICOMweb root of ``openpacs serve`` with its defaults."""
