"""Argument types that refuse a bad value before any network call (usage error, exit 2)."""

from __future__ import annotations

import argparse
import uuid


def uuid_text(text: str) -> str:
    """A UUID in its usual form; ``argparse`` reports anything else as a usage error."""
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a UUID: {text!r}") from None


def uuid_list_text(text: str) -> str:
    """One or more UUIDs separated by commas (the item is kept as typed, then split)."""
    items = [item for item in (part.strip() for part in text.split(",")) if item]
    if not items:
        raise argparse.ArgumentTypeError(f"no UUID in {text!r}")
    return ",".join(uuid_text(item) for item in items)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0, not {text}")
    return value


def positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
