"""The DICOM node starts beside the app, on a thread of its own: the app never waits for
it, it is left before the services close, and a node that cannot start is logged."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from openpacs.web.attachment import attached_in_background


def test_the_app_goes_on_while_the_attachment_starts_and_leaves_it_last() -> None:
    may_start = threading.Event()
    events: list[str] = []

    @contextmanager
    def slow_node(_ctx: Any) -> Iterator[None]:
        may_start.wait(10)
        events.append("entered")
        yield
        events.append("left")

    with attached_in_background(slow_node, ctx=object()):  # type: ignore[arg-type]
        events.append("serving")  # the app serves before the node is up
        may_start.set()
    assert events == ["serving", "entered", "left"]


def test_a_node_that_cannot_start_is_logged_and_the_app_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(_ctx: Any) -> Any:
        raise OSError("address in use")

    with attached_in_background(broken, ctx=object()):  # type: ignore[arg-type]
        pass
    assert "the DICOM node did not start" in caplog.text
    assert "address in use" in caplog.text


def test_the_warm_up_runs_after_the_node_on_the_same_thread_and_without_a_node() -> None:
    events: list[tuple[str, str]] = []

    @contextmanager
    def node(_ctx: Any) -> Iterator[None]:
        events.append(("node", threading.current_thread().name))
        yield

    def warm_up(_leaving: threading.Event) -> None:
        events.append(("warm-up", threading.current_thread().name))

    with attached_in_background(node, object(), then=warm_up):  # type: ignore[arg-type]
        pass
    with attached_in_background(None, object(), then=warm_up):  # type: ignore[arg-type]
        pass
    background = "openpacs-attach"
    assert events == [("node", background), ("warm-up", background), ("warm-up", background)]
