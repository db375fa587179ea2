"""An installed OHIF bundle as the server serves it.

Its files are listed once when the server starts (:class:`Bundle`): a request's path is
looked up in that table, so no file path is ever built from a value on the wire, and
nothing outside the installation can be named. ``index.html`` is not served as it is:
:meth:`Bundle.page` makes it for a page (its assets under :data:`PUBLIC_PATH`, its inline
scripts gone so the CSP needs no ``'unsafe-inline'``, the page's own configuration
script instead of OHIF's ``app-config.js``, no service worker).
"""

from __future__ import annotations

import functools
import hashlib
import html
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from openpacs.ohif.release import MARKER, PUBLIC_PATH, Release, install_dir, is_installed

log = logging.getLogger("openpacs.ohif")

MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".map": "application/json",
    ".webapp": "application/x-web-app-manifest+json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".gif": "image/gif",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".txt": "text/plain; charset=utf-8",
}
# Files of the build that are not served: its own config and example configs, deployment
# files of other hosts, the service worker (it would fetch Workbox from a CDN).
NOT_SERVED = frozenset(
    {
        "index.html",
        "app-config.js",
        "google.js",
        "serve.json",
        "_headers",
        "_redirects",
        "sw.js",
        "init-service-worker.js",
        MARKER,
    }
)
# Content-hashed names (``12.bundle.b4688cdbdd856b75.js``, ``0ddf166f7a343eda.wasm``)
# never change: cached for a year. Everything else is revalidated (ETag).
_HASHED = re.compile(r"(?:^|[./-])[0-9a-f]{16,}\.[a-z0-9]+$")
_INLINE_SCRIPT = re.compile(r"<script>[^<]*</script>")
_SCRIPT_SRC = re.compile(r'<script[^>]*\ssrc="/([^"]+)"[^>]*></script>')
_ROOT_URL = re.compile(r'\s(href|src)="/(?!/)')
# The web-app manifest (its icons are root-relative; the viewer is no installable app).
_MANIFEST = re.compile(r'<link rel="(?:manifest|yandex-tableau-widget)"[^>]*>')


class BundleError(Exception):
    """An installation that cannot be served (the message says why)."""


@dataclass(frozen=True)
class Asset:
    path: Path
    gzipped: Path | None  # a gzip copy made at install time
    media_type: str
    immutable: bool
    etag: str
    size: int


@dataclass(frozen=True)
class Bundle:
    release: Release
    root: Path
    template: str  # index.html with the page's placeholders

    @functools.cached_property
    def assets(self) -> dict[str, Asset]:
        """URL path below PUBLIC_PATH -> file. Made at the first request for a file, not at
        start: a stat of each of the ~1,000 files would delay every restart by 0.1-0.2 s."""
        try:
            return _assets(self.root, self.release)
        except OSError as exc:
            log.error("cannot read the OHIF installation in %s: %s", self.root, exc)
            return {}

    def asset(self, relative: str) -> Asset | None:
        return self.assets.get(relative)

    def page(self, config_src: str) -> bytes:
        """``index.html`` for one page, loading its configuration from ``config_src``."""
        return self.template.replace("{config_src}", html.escape(config_src, quote=True)).encode()


def load_bundle(root: Path, release: Release) -> Bundle:
    """The installed ``release`` under ``root`` (BundleError when it is not usable)."""
    directory = install_dir(root, release)
    if not is_installed(directory, release):
        raise BundleError(f"OHIF {release.version} is not installed in {directory}")
    try:
        source = (directory / "index.html").read_text(encoding="utf-8")
    except OSError as exc:
        raise BundleError(f"cannot read the OHIF installation in {directory}: {exc}") from None
    return Bundle(release, directory, page_template(source))


def page_template(source: str) -> str:
    """OHIF's ``index.html`` with its assets under PUBLIC_PATH and ``{config_src}`` where
    its configuration script goes."""
    scripts = _SCRIPT_SRC.findall(source)
    if "app-config.js" not in scripts or not any(s.startswith("app.bundle.") for s in scripts):
        raise BundleError("this OHIF build's index.html has no app-config.js or app bundle")
    text = _MANIFEST.sub("", _INLINE_SCRIPT.sub("", source))

    def script(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "app-config.js":
            return '<script src="{config_src}"></script>'
        if name == "init-service-worker.js":
            return ""
        return match.group(0)

    text = _SCRIPT_SRC.sub(script, text)
    text = _ROOT_URL.sub(lambda m: f' {m.group(1)}="{PUBLIC_PATH}', text)
    if "<script>" in text or text.count("{config_src}") != 1:
        raise BundleError("this OHIF build's index.html has an unexpected layout")
    return text


def _assets(directory: Path, release: Release) -> dict[str, Asset]:
    found: dict[str, Asset] = {}
    for path in directory.rglob("*"):
        if not path.is_file() or path.suffix == ".gz" or path.is_symlink():
            continue
        relative = path.relative_to(directory).as_posix()
        if relative in NOT_SERVED:
            continue
        stat = path.stat()
        gz = Path(f"{path}.gz")
        tag = hashlib.sha256(f"{release.integrity}/{relative}/{stat.st_size}".encode())
        found[relative] = Asset(
            path=path,
            gzipped=gz if gz.is_file() else None,
            media_type=MEDIA_TYPES.get(path.suffix.lower(), "application/octet-stream"),
            immutable=bool(_HASHED.search(path.name)),
            etag='"' + tag.hexdigest()[:32] + '"',
            size=stat.st_size,
        )
    return found
