"""dcmtk's command-line tools as the reference DICOM peer of the end-to-end tests.

``make test`` installs Debian's ``dcmtk`` when it is missing (like chromium). Without it
the tests that need it skip with the reason; in CI (``CI`` set) they fail instead, so they
can never silently vanish there.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TOOLS = ("echoscu", "storescu", "findscu", "movescu", "getscu", "storescp")


def tool_path(tool: str) -> str | None:
    """dcmtk's ``tool`` on the PATH, never the pynetdicom command of the same name that
    the virtual environment's ``bin`` holds (echoscu, storescu, findscu, ...)."""
    venv_bin = Path(sys.executable).parent.resolve()
    search = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    search = [p for p in search if Path(p).resolve() != venv_bin]
    return shutil.which(tool, path=os.pathsep.join(search))


def require_dcmtk() -> None:
    missing = [tool for tool in TOOLS if tool_path(tool) is None]
    if not missing:
        return
    message = f"dcmtk not installed ({', '.join(missing)} missing): run `make test` as root"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must run the DICOM network tests)")
    pytest.skip(message)


def run(
    tool: str, *args: str | Path, timeout: float = 120, check: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run a dcmtk tool; its output (stdout and stderr together) in ``.stdout``."""
    require_dcmtk()
    done = subprocess.run(
        [tool_path(tool) or tool, *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"{tool} failed ({done.returncode}):\n{done.stdout}")
    return done
