"""Stand-in worker entry points for the worker pool tests (importable by spawned processes)."""

from __future__ import annotations


def exit_at_once(*_args: object) -> None:
    raise SystemExit(3)
