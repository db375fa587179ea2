"""What ``openpacs serve`` prints when it starts: where to connect and, the first time,
the account it created and how to sign in with it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from openpacs.services.bootstrap import InitialAdmin
from openpacs.settings import Settings


def first_start_message(admin: InitialAdmin | None, settings: Settings) -> str:
    root = settings.dicomweb_root
    lines = []
    if admin is not None:
        lines += [
            f'First start: created the account "{admin.account_name}" and its admin user.',
            f"  AccountUuid  {admin.account_uuid}",
            f"  user         {admin.email}",
            f"  password     {admin.password}",
            f"  (also written to {admin.file}, readable only by you)",
            f"Sign in with them in a browser at {settings.effective_public_url}/ (the web",
            "application), or from the openpacs command line, the Python SDK or a DICOMweb",
            "viewer:",
            f"  export OPENPACS_URL={root}",
            f"  export OPENPACS_USER={admin.email}",
            "  openpacs users",
        ]
        hint = path_hint()
        if hint:
            lines.append(hint)
    lines.append(f"openpacs web application: {settings.effective_public_url}/")
    lines.append(f"openpacs DICOMweb root: {root}  (data in {settings.data_dir})")
    if settings.dicom_port:
        lines.append(
            f"openpacs DICOM node: AE title {settings.ae_title} on port {settings.dicom_port}"
        )
    return "\n".join(lines)


def path_hint(executable: str = sys.executable) -> str:
    """How to get the ``openpacs`` command on the PATH, when it is not there yet."""
    scripts = Path(executable).parent
    command = scripts / "openpacs"
    if shutil.which("openpacs") is not None or not command.exists():
        return ""
    activate = scripts / "activate"
    if activate.exists():
        return f"To put the openpacs command on your PATH:\n  . {_relative(activate)}"
    return f"To put the openpacs command on your PATH, add {scripts} to it."


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


__all__ = ["first_start_message", "path_hint"]
