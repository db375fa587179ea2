"""Small tarballs in npm's layout (``package/dist/...``) shaped like an OHIF release: an
``index.html`` and bundles with webpack's public path, so the install rules (and the
``openpacs viewer install`` command) are exercised without the 50 MB release.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
from pathlib import Path

from openpacs.ohif.release import Release

INDEX = (
    '<!doctype html><html><head><script>console.time("scriptToView"),window.PUBLIC_URL="/"'
    '</script><link rel="manifest" href="/manifest.json">'
    '<link rel="icon shortcut" href="/assets/favicon.ico">'
    '<script rel="preload" as="script" src="/app-config.js"></script>'
    '<script rel="preload" as="script" type="module" src="/init-service-worker.js"></script>'
    '<script>function browserImportFunction(n){return import(n)}window.PUBLIC_URL="/"</script>'
    '<script defer src="/app.bundle.0f6159c501addfe9.js"></script>'
    '<link href="/app.bundle.css" rel="stylesheet"></head><body><div id="root"></div>'
    "</body></html>"
)
APP_JS = b'(() => {\n__webpack_require__.p = "/";\n})();\nconsole.log("app");\n' * 40
WORKER_JS = b'(() => {\n__webpack_require__.p = "/";\n})();\n'
CSS = b"@font-face{src:url(/a34f9d1faa5f3315.woff2)}" * 40
FILES: dict[str, bytes] = {
    "package/package.json": b'{"name": "@ohif/app"}',
    "package/LICENSE": b"MIT",
    "package/dist/index.html": INDEX.encode(),
    "package/dist/app-config.js": b"window.config = {};",
    "package/dist/app.bundle.0f6159c501addfe9.js": APP_JS,
    "package/dist/compute.bundle.0fc3a3ee85296cf2.js": WORKER_JS,
    "package/dist/app.bundle.css": CSS,
    "package/dist/0ddf166f7a343eda.wasm": b"\0asm" + bytes(2000),
    "package/dist/assets/favicon.ico": b"icon",
}


def integrity_of(data: bytes) -> str:
    """The npm registry's ``dist.integrity`` of a tarball."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def make_tarball(
    path: Path, files: dict[str, bytes] | None = None, extra: list[tarfile.TarInfo] | None = None
) -> Release:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in (files or FILES).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for info in extra or []:
            archive.addfile(info)
    path.write_bytes(buffer.getvalue())
    return Release("9.9.9", integrity_of(buffer.getvalue()))
