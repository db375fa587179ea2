"""What a server loads after it answers (web/warm_up.py) covers every module of ours that
needs pydicom, NumPy or Pillow, so the first upload or retrieve after a restart does not
load them; the DICOM node's modules load when the node starts. Read from the source."""

from __future__ import annotations

import ast
import gc
import logging
import sys
import threading
from pathlib import Path

import pytest

from openpacs.web import warm_up

SRC = Path(__file__).resolve().parents[2] / "src"
HEAVY = frozenset({"pydicom", "numpy", "PIL", "pynetdicom"})
NODE = "openpacs.dimse"


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level_imports(path: Path) -> set[str]:
    """Modules imported when ``path`` is, not inside functions or TYPE_CHECKING blocks."""
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If):
                checking = isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
                if not checking:
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body)
                for handler in node.handlers:
                    visit(handler.body)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return found


GRAPH = {_module_name(p): _top_level_imports(p) for p in (SRC / "openpacs").rglob("*.py")}


def _loaded_with(roots: tuple[str, ...]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name not in GRAPH:
            continue
        seen.add(name)
        todo.extend(GRAPH[name])
    return seen


def _needs_heavy(name: str) -> bool:
    return bool({imported.split(".")[0] for imported in GRAPH[name]} & HEAVY)


def _the_nodes(name: str) -> bool:
    """A module of the DICOM node, or one only the node's modules import."""
    importers = {other for other, imports in GRAPH.items() if name in imports}
    return name.startswith(NODE) or (bool(importers) and all(m.startswith(NODE) for m in importers))


def test_every_module_that_needs_the_pixel_packages_is_warmed_up_or_the_nodes() -> None:
    warmed = _loaded_with(warm_up.DEFERRED_MODULES)
    left = sorted(
        name
        for name in GRAPH
        if _needs_heavy(name)
        and name not in warmed
        and not _the_nodes(name)
        and not name.startswith("openpacs.client")  # the SDK, not the server
    )
    assert not left, f"add to DEFERRED_MODULES (web/warm_up.py): {left}"
    assert {"openpacs.dicom.pixels", "openpacs.dicom.json_model"} <= warmed


def test_the_deferred_modules_exist_and_load_after_the_delay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(warm_up, "WARM_UP_AFTER_SECONDS", 0.01)
    warm_up.warm_up(threading.Event())
    for name in warm_up.DEFERRED_MODULES:
        assert name in GRAPH and name in sys.modules


def test_a_server_stopping_before_the_delay_loads_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(warm_up, "DEFERRED_MODULES", ("openpacs.no_such_module",))
    leaving = threading.Event()
    leaving.set()
    with caplog.at_level(logging.ERROR, logger="openpacs.app"):
        warm_up.warm_up(leaving)
    assert "no_such_module" not in caplog.text  # it never tried


def test_the_collector_is_paused_while_modules_load_and_restored_after() -> None:
    assert gc.isenabled()
    with warm_up.collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_module_that_cannot_load_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(warm_up, "DEFERRED_MODULES", ("openpacs.no_such_module",))
    monkeypatch.setattr(warm_up, "WARM_UP_AFTER_SECONDS", 0.01)
    with caplog.at_level(logging.ERROR, logger="openpacs.app"):
        warm_up.warm_up(threading.Event())
    assert "could not load openpacs.no_such_module in the background" in caplog.text
