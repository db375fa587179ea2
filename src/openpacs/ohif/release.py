"""The pinned OHIF release and where installations live.

The pin is the npm registry's own record of ``@ohif/app``: the version, its tarball and
the ``dist.integrity`` value the registry publishes for it (``sha512-`` + base64). Another
version is chosen with ``OPENPACS_OHIF_VERSION`` and ``OPENPACS_OHIF_INTEGRITY`` together
(the integrity is never fetched from the same place as the tarball: it is what a person
copied from the registry and decided to trust).
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

PINNED_VERSION = "3.13.2"
PINNED_INTEGRITY = (
    "sha512-"
    "WZdxmpmG7rqFgW9ZJLcbgr3XCtLi1KDNPoMaeY5PPe6j4G4fjEjjkycZM6C6Zk2F87BKxFfpq+jd5xXZB9E8EA=="
)
REGISTRY = "https://registry.npmjs.org"
#: Where the viewer's files are served; the bundle's public path is rewritten to it.
PUBLIC_PATH = "/viewer/"
#: The file an installation is finished with: the release it holds (see ``install.py``).
MARKER = ".openpacs-ohif.json"

_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.]+)?$")
_INTEGRITY = re.compile(r"^sha512-[A-Za-z0-9+/]{86}==$")


class ReleaseError(ValueError):
    """A version or integrity value that cannot be used (the message says which)."""


@dataclass(frozen=True)
class Release:
    version: str
    integrity: str  # "sha512-<base64 of the 64-byte digest>"

    @property
    def tarball_url(self) -> str:
        return f"{REGISTRY}/@ohif/app/-/app-{self.version}.tgz"

    @property
    def file_name(self) -> str:
        return f"ohif-app-{self.version}.tgz"

    @property
    def digest(self) -> bytes:
        return base64.b64decode(self.integrity.removeprefix("sha512-"))


def release_for(version: str = "", integrity: str = "") -> Release:
    """The pinned release, or the one named (another version needs its integrity)."""
    version = version.strip() or PINNED_VERSION
    integrity = integrity.strip()
    if not _VERSION.match(version):
        raise ReleaseError(f"OPENPACS_OHIF_VERSION {version!r} is not a version like 3.13.2")
    if not integrity:
        if version != PINNED_VERSION:
            raise ReleaseError(
                f"OHIF {version} is not the pinned {PINNED_VERSION}: give its dist.integrity "
                "from the npm registry in OPENPACS_OHIF_INTEGRITY"
            )
        integrity = PINNED_INTEGRITY
    if not _INTEGRITY.match(integrity):
        raise ReleaseError("OPENPACS_OHIF_INTEGRITY must be a sha512-... value (dist.integrity)")
    return Release(version, integrity)


def default_root() -> Path:
    """Installations go inside the Python environment (the virtual environment of
    ``make serve``), so every data directory served from it uses them."""
    return Path(sys.prefix) / "share" / "openpacs"


def install_dir(root: Path, release: Release) -> Path:
    return root / f"ohif-{release.version}"


def cache_dir() -> Path:
    """Downloaded tarballs are kept here (checked again before each use), so a new virtual
    environment (CI, ``make clean``) installs without downloading again."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "openpacs"


def is_installed(target: Path, release: Release) -> bool:
    """``target`` holds a finished installation of ``release`` for this server."""
    try:
        marker = json.loads((target / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(
        marker.get("integrity") == release.integrity and marker.get("public_path") == PUBLIC_PATH
    )
