"""Install the pinned OHIF release: fetch, check, unpack, make servable. Idempotent.

Order of work (nothing half-done is ever used):

1. An installation whose marker names this release's integrity is complete: done.
2. The tarball: a local copy given by the caller, else the cached download (both checked
   against the integrity), else an HTTPS download into the cache (a temporary file
   renamed into place only once its sha512 matches; a mismatch is deleted and refused).
3. Unpack ``package/dist/*`` into a temporary directory beside the target: regular files
   and directories only (a link, a device, an absolute path or ``..`` refuses the whole
   tarball), within size and count limits.
4. Rewrite the build's public path (the bundle is built for ``/``; it is served under
   ``/viewer/``): webpack's ``__webpack_require__.p = "/"`` in the entry and worker
   bundles, and ``url(/...)`` in the style sheets. Gzip copies of the text and wasm
   files, so they are served compressed without compressing per request.
5. Write the marker, then rename the directory into place (one rename).

A lock file serialises concurrent installs into the same root.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import hmac
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpx

from openpacs.ohif.release import MARKER, PUBLIC_PATH, Release, cache_dir, install_dir, is_installed

MAX_BYTES = 2 * 1024**3
MAX_MEMBERS = 20_000
CHUNK = 1024 * 1024
DOWNLOAD_TIMEOUT = httpx.Timeout(30.0, read=120.0)
# Bundles whose webpack runtime has the public path compiled in, and style sheets with
# root-relative URLs: both are rewritten to PUBLIC_PATH.
_WEBPACK_PUBLIC_PATH = b'__webpack_require__.p = "/";'
_CSS_ROOT_URL = b"url(/"
_GZIP_SUFFIXES = frozenset({".js", ".css", ".wasm", ".json", ".svg", ".html"})
_NOT_GZIPPED = ("ort/",)  # onnxruntime for optional AI tools: 136 MB, rarely loaded


class InstallError(Exception):
    """Why the viewer could not be installed (one line for the user)."""


@dataclass(frozen=True)
class Installed:
    release: Release
    path: Path
    fresh: bool  # unpacked by this call (False: it was already installed)


def install(
    release: Release,
    root: Path,
    *,
    source: Path | None = None,
    cache: Path | None = None,
    transport: httpx.BaseTransport | None = None,
    url: str = "",
) -> Installed:
    """Install ``release`` under ``root`` (see the module docstring for the order)."""
    try:
        return _install(release, root, source, cache, transport, url)
    except OSError as exc:  # a folder that cannot be made, a file that cannot be read
        named = exc.filename and Path(exc.filename) != root
        where = f" ({exc.filename})" if named else ""
        raise InstallError(f"cannot install into {root}: {exc.strerror or exc}{where}") from None


def _install(
    release: Release,
    root: Path,
    source: Path | None,
    cache: Path | None,
    transport: httpx.BaseTransport | None,
    url: str,
) -> Installed:
    target = install_dir(root, release)
    if is_installed(target, release):
        return Installed(release, target, fresh=False)
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / ".ohif.lock"):
        if is_installed(target, release):  # another process finished it meanwhile
            return Installed(release, target, fresh=False)
        tarball = _tarball(release, source, cache or cache_dir(), transport, url)
        staging = Path(tempfile.mkdtemp(prefix=f".ohif-{release.version}-", dir=root))
        try:
            _unpack(tarball, staging)
            _set_public_path(staging)
            _gzip_copies(staging)
            marker = {
                "version": release.version,
                "integrity": release.integrity,
                "public_path": PUBLIC_PATH,
            }
            (staging / MARKER).write_text(json.dumps(marker), encoding="utf-8")
            if target.exists():
                shutil.rmtree(target)  # an unfinished or other-release leftover
            staging.rename(target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return Installed(release, target, fresh=True)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# -- the tarball ----------------------------------------------------------------------------


def _tarball(
    release: Release,
    source: Path | None,
    cache: Path,
    transport: httpx.BaseTransport | None,
    url: str,
) -> Path:
    if source is not None:
        if not source.is_file():
            raise InstallError(f"{source} is not a file")
        _check_integrity(source, release)
        return source
    cached = cache / release.file_name
    if cached.is_file():
        try:
            _check_integrity(cached, release)
            return cached
        except InstallError:
            cached.unlink(missing_ok=True)  # damaged or another build: fetch again
    cache.mkdir(parents=True, exist_ok=True)
    _download(url or release.tarball_url, cached, release, transport)
    return cached


def _download(
    url: str, dest: Path, release: Release, transport: httpx.BaseTransport | None
) -> None:
    fd, name = tempfile.mkstemp(prefix=".download-", dir=dest.parent)
    partial = Path(name)
    digest = hashlib.sha512()
    try:
        with (
            os.fdopen(fd, "wb") as out,
            httpx.Client(transport=transport, timeout=DOWNLOAD_TIMEOUT) as client,
            client.stream("GET", url, follow_redirects=True) as response,
        ):
            if response.status_code != 200:
                raise InstallError(f"{url} answered {response.status_code}")
            size = 0
            for chunk in response.iter_bytes(CHUNK):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise InstallError(f"{url} sends more than {MAX_BYTES} bytes")
                digest.update(chunk)
                out.write(chunk)
        if not hmac.compare_digest(digest.digest(), release.digest):
            raise InstallError(_mismatch(url, release))
        partial.rename(dest)
    except httpx.HTTPError as exc:
        raise InstallError(f"could not download {url}: {exc or type(exc).__name__}") from None
    finally:
        partial.unlink(missing_ok=True)


def _check_integrity(path: Path, release: Release) -> None:
    digest = hashlib.sha512()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    if not hmac.compare_digest(digest.digest(), release.digest):
        raise InstallError(_mismatch(str(path), release))


def _mismatch(what: str, release: Release) -> str:
    return (
        f"{what}: sha512 does not match the pinned integrity of @ohif/app {release.version}; "
        "refused"
    )


# -- unpacking ------------------------------------------------------------------------------


def _member_path(member: tarfile.TarInfo) -> PurePosixPath | None:
    """Where a member goes inside the installation (None: not part of ``dist/``)."""
    name = member.name
    if "\\" in name or "\x00" in name or name.startswith("/"):
        raise InstallError(f"refused: the tarball holds an unsafe path {name!r}")
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise InstallError(f"refused: the tarball holds a path leaving its folder {name!r}")
    if not (member.isfile() or member.isdir()):
        raise InstallError(f"refused: the tarball holds a link or special file {name!r}")
    if parts[:1] != ("package",):
        raise InstallError(f"refused: {name!r} is not inside package/")
    if parts[1:] == ("LICENSE",):
        return PurePosixPath("LICENSE")
    if parts[1:2] != ("dist",) or len(parts) < 3:
        return None
    return PurePosixPath(*parts[2:])


def _unpack(tarball: Path, into: Path) -> None:
    total = 0
    try:
        with tarfile.open(tarball, mode="r:gz") as archive:
            for count, member in enumerate(archive, start=1):
                if count > MAX_MEMBERS:
                    raise InstallError(f"refused: more than {MAX_MEMBERS} files")
                relative = _member_path(member)
                if relative is None:
                    continue
                dest = into.joinpath(*relative.parts)
                if member.isdir():
                    dest.mkdir(parents=True, exist_ok=True)
                    continue
                total += member.size
                if total > MAX_BYTES:
                    raise InstallError(f"refused: more than {MAX_BYTES} bytes unpacked")
                dest.parent.mkdir(parents=True, exist_ok=True)
                source = archive.extractfile(member)
                if source is None:
                    raise InstallError(f"refused: cannot read {member.name!r}")
                with source, open(dest, "xb") as out:
                    shutil.copyfileobj(source, out, CHUNK)
    except (tarfile.TarError, EOFError, OSError) as exc:
        if isinstance(exc, FileExistsError):
            raise InstallError(f"refused: the tarball holds {exc.filename} twice") from None
        raise InstallError(f"cannot unpack {tarball.name}: {exc}") from None
    if not (into / "index.html").is_file():
        raise InstallError(f"{tarball.name} holds no dist/index.html: not an OHIF build")


def _set_public_path(root: Path) -> None:
    """Rewrite the build's ``/`` public path to :data:`PUBLIC_PATH` (see the docstring)."""
    new_path = f'__webpack_require__.p = "{PUBLIC_PATH}";'.encode()
    runtimes = 0
    for path in sorted(root.iterdir()):
        if path.suffix == ".js" and path.is_file():
            data = path.read_bytes()
            if _WEBPACK_PUBLIC_PATH in data:
                path.write_bytes(data.replace(_WEBPACK_PUBLIC_PATH, new_path))
                runtimes += 1
        elif path.suffix == ".css" and path.is_file():
            data = path.read_bytes()
            if _CSS_ROOT_URL in data:
                path.write_bytes(data.replace(_CSS_ROOT_URL, b"url(" + PUBLIC_PATH.encode()))
    if runtimes == 0:
        raise InstallError("this OHIF build has no webpack public path to set: unknown layout")


def _gzip_copies(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if (
            path.suffix in _GZIP_SUFFIXES
            and path.is_file()
            and path.stat().st_size >= 1024
            and not relative.startswith(_NOT_GZIPPED)
        ):
            with open(path, "rb") as source, gzip.open(f"{path}.gz", "wb", compresslevel=6) as out:
                shutil.copyfileobj(source, out, CHUNK)
