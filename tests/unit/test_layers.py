"""The import direction of the layers (DESIGN.md "Layers"), read from the source with ``ast``.

``dicom/`` is the bottom: DICOM helpers that know nothing of the web or the database.
``protocol/`` (wire formats) builds on it and may import it, never the reverse, so the two
can never import each other in a circle again. ``index/`` (an adapter) never reaches up
into ``services/`` or ``web/``, and no service imports a web module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "openpacs"

# package -> the openpacs packages its modules may import (itself always allowed)
ALLOWED: dict[str, frozenset[str]] = {
    "dicom": frozenset(),
    "protocol": frozenset({"dicom"}),
    "index": frozenset({"dicom", "protocol"}),
}
FORBIDDEN: dict[str, frozenset[str]] = {
    "services": frozenset({"web", "cli", "client", "dimse"}),
    # The DICOM face stands beside the web face, on the services: neither imports the other.
    "dimse": frozenset({"web", "cli", "client"}),
    "web": frozenset({"dimse"}),
}


def _imported_packages(path: Path) -> set[tuple[str, int]]:
    """(first package under ``openpacs``, line) of every ``openpacs`` import in a module,
    including imports inside functions and ``if TYPE_CHECKING:`` blocks."""
    found: set[tuple[str, int]] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            raise AssertionError(f"{path}:{node.lineno}: use absolute imports")
        for name in names:
            parts = name.split(".")
            if parts[0] == "openpacs" and len(parts) > 1:
                found.add((parts[1], node.lineno))
    return found


def _modules(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_lower_layers_import_only_below_them(package: str) -> None:
    allowed = ALLOWED[package] | {package}
    wrong = [
        f"{path.relative_to(SRC)}:{line} imports openpacs.{target}"
        for path in _modules(package)
        for target, line in _imported_packages(path)
        if target not in allowed
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_services_and_faces_never_import_a_face(package: str) -> None:
    wrong = [
        f"{path.relative_to(SRC)}:{line} imports openpacs.{target}"
        for path in _modules(package)
        for target, line in _imported_packages(path)
        if target in FORBIDDEN[package]
    ]
    assert not wrong, "\n".join(wrong)


def test_the_walker_sees_function_level_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from openpacs.web import app\n", encoding="utf-8")
    assert _imported_packages(module) == {("web", 2)}


# SQLAlchemy's statement builders; a module importing one builds SQL itself.
STATEMENT_BUILDERS = frozenset({"select", "insert", "update", "delete", "text", "union_all"})
# The services that still build SQL of their own (services/__init__.py and the README
# name them); the others call index/. A module may leave this set, never join it.
SERVICES_WITH_SQL = frozenset({"orders", "accounts"})


def _builds_sql(path: Path) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith("sqlalchemy")
        and any(alias.name in STATEMENT_BUILDERS for alias in node.names)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
    )


def test_services_leave_sql_to_the_index() -> None:
    building = {path.stem for path in _modules("services") if _builds_sql(path)}
    assert building <= SERVICES_WITH_SQL, building - SERVICES_WITH_SQL
    documented = (SRC / "services" / "__init__.py").read_text(encoding="utf-8")
    assert all(f"``{name}.py``" in documented for name in SERVICES_WITH_SQL)
