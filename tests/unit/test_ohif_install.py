"""Installing the OHIF bundle: integrity, safe unpacking, the public path, idempotence,
download over HTTP (a real local server) with its cache, and the fall-back when missing.

The tarballs are small ones made here in npm's layout (``package/dist/...``) with an
``index.html`` and bundles shaped like OHIF's, so every rule is exercised without the
50 MB release (the browser tests use the real one).
"""

from __future__ import annotations

import http.server
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from openpacs.ohif.bundle import BundleError, load_bundle, page_template
from openpacs.ohif.install import InstallError, install
from openpacs.ohif.release import (
    PINNED_INTEGRITY,
    PINNED_VERSION,
    Release,
    ReleaseError,
    install_dir,
    is_installed,
    release_for,
)
from openpacs.settings import Settings
from openpacs.web.ohif.loader import load_viewer
from tests.support.ohif_tarball import FILES, integrity_of, make_tarball


@pytest.fixture
def tarball(tmp_path: Path) -> tuple[Path, Release]:
    path = tmp_path / "app.tgz"
    return path, make_tarball(path)


def test_the_pin_is_the_registry_record() -> None:
    release = release_for()
    assert release.version == PINNED_VERSION == "3.13.2"
    assert release.integrity == PINNED_INTEGRITY
    assert release.tarball_url == "https://registry.npmjs.org/@ohif/app/-/app-3.13.2.tgz"
    assert len(release.digest) == 64


def test_another_version_needs_its_integrity() -> None:
    with pytest.raises(ReleaseError, match="OPENPACS_OHIF_INTEGRITY"):
        release_for("3.12.0")
    with pytest.raises(ReleaseError, match="sha512"):
        release_for("3.12.0", "sha256-abc")
    with pytest.raises(ReleaseError, match="not a version"):
        release_for("../../etc")
    other = release_for("3.12.0", integrity_of(b"x"))
    assert other.version == "3.12.0"


def test_install_from_a_local_copy(tmp_path: Path, tarball: tuple[Path, Release]) -> None:
    source, release = tarball
    root = tmp_path / "root"
    done = install(release, root, source=source, cache=tmp_path / "cache")
    assert done.fresh and done.path == install_dir(root, release)
    assert is_installed(done.path, release)
    # The public path is /viewer/ in every bundle with a webpack runtime, and in the CSS.
    app = (done.path / "app.bundle.0f6159c501addfe9.js").read_bytes()
    assert b'__webpack_require__.p = "/viewer/";' in app
    assert b'__webpack_require__.p = "/";' not in app
    worker = (done.path / "compute.bundle.0fc3a3ee85296cf2.js").read_bytes()
    assert b'"/viewer/"' in worker
    assert b"url(/viewer/a34f9d1faa5f3315.woff2)" in (done.path / "app.bundle.css").read_bytes()
    # gzip copies of the larger text and wasm files; only dist/ and the licence unpacked.
    assert (done.path / "app.bundle.0f6159c501addfe9.js.gz").is_file()
    assert (done.path / "0ddf166f7a343eda.wasm.gz").is_file()
    assert not (done.path / "assets" / "favicon.ico.gz").exists()
    assert (done.path / "LICENSE").read_bytes() == b"MIT"
    assert not (done.path / "package.json").exists()
    # Idempotent: a second call finds it and unpacks nothing.
    (done.path / "app.bundle.css").write_bytes(b"kept")
    again = install(release, root, source=source, cache=tmp_path / "cache")
    assert not again.fresh
    assert (done.path / "app.bundle.css").read_bytes() == b"kept"


def test_integrity_mismatch_is_refused(tmp_path: Path, tarball: tuple[Path, Release]) -> None:
    source, release = tarball
    wrong = Release(release.version, integrity_of(b"another tarball"))
    root = tmp_path / "root"
    with pytest.raises(InstallError, match="does not match the pinned integrity"):
        install(wrong, root, source=source, cache=tmp_path / "cache")
    assert not install_dir(root, wrong).exists()
    assert [p.name for p in root.iterdir()] == [".ohif.lock"]  # no staging left behind


@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [
        ("package/dist/../../evil.js", tarfile.REGTYPE, "leaving its folder"),
        ("/etc/evil", tarfile.REGTYPE, "unsafe path"),
        ("package/dist/link.js", tarfile.SYMTYPE, "link or special file"),
        ("package/dist/hard.js", tarfile.LNKTYPE, "link or special file"),
        ("package/dist/dev", tarfile.CHRTYPE, "link or special file"),
        ("elsewhere/dist/x.js", tarfile.REGTYPE, "not inside package/"),
    ],
)
def test_unsafe_members_refuse_the_tarball(
    tmp_path: Path, name: str, kind: bytes, message: str
) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
        info.linkname = "/etc/passwd"
    source = tmp_path / "bad.tgz"
    release = make_tarball(source, extra=[info])
    root = tmp_path / "root"
    with pytest.raises(InstallError, match=message):
        install(release, root, source=source, cache=tmp_path / "cache")
    assert not install_dir(root, release).exists()
    assert not (tmp_path / "evil.js").exists()


def test_a_tarball_that_is_no_ohif_build_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "other.tgz"
    release = make_tarball(source, {"package/dist/readme.txt": b"hello"})
    with pytest.raises(InstallError, match=r"no dist/index\.html"):
        install(release, tmp_path / "root", source=source, cache=tmp_path / "cache")
    files = {k: v for k, v in FILES.items() if not k.endswith(".js")}
    files["package/dist/app.bundle.1111111111111111.js"] = b"no runtime here"
    release = make_tarball(source, files)
    with pytest.raises(InstallError, match="unknown layout"):
        install(release, tmp_path / "root", source=source, cache=tmp_path / "cache")


class _Registry(http.server.BaseHTTPRequestHandler):
    """Serves the tarball at /app.tgz; counts requests."""

    body = b""
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        if self.path != "/app.tgz":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def registry(tarball: tuple[Path, Release]) -> Iterator[str]:
    _Registry.body = tarball[0].read_bytes()
    _Registry.hits = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_download_is_checked_and_cached(
    tmp_path: Path, tarball: tuple[Path, Release], registry: str
) -> None:
    _, release = tarball
    cache = tmp_path / "cache"
    done = install(release, tmp_path / "a", cache=cache, url=f"{registry}/app.tgz")
    assert done.fresh and _Registry.hits == 1
    assert (cache / release.file_name).is_file()
    # Another installation (a new virtual environment) takes the cached copy.
    install(release, tmp_path / "b", cache=cache, url=f"{registry}/app.tgz")
    assert _Registry.hits == 1
    # A damaged cache file is thrown away and fetched again.
    (cache / release.file_name).write_bytes(b"damaged")
    install(release, tmp_path / "c", cache=cache, url=f"{registry}/app.tgz")
    assert _Registry.hits == 2


def test_download_that_does_not_match_is_refused_and_not_cached(
    tmp_path: Path, tarball: tuple[Path, Release], registry: str
) -> None:
    _, release = tarball
    wrong = Release(release.version, integrity_of(b"what was pinned"))
    cache = tmp_path / "cache"
    with pytest.raises(InstallError, match="does not match"):
        install(wrong, tmp_path / "root", cache=cache, url=f"{registry}/app.tgz")
    assert list(cache.iterdir()) == []
    with pytest.raises(InstallError, match="answered 404"):
        install(release, tmp_path / "root", cache=cache, url=f"{registry}/missing.tgz")


def test_offline_install_fails_in_one_line(tmp_path: Path, tarball: tuple[Path, Release]) -> None:
    _, release = tarball
    with pytest.raises(InstallError, match="could not download") as failure:
        install(release, tmp_path / "root", cache=tmp_path / "cache", url="http://127.0.0.1:9/x")
    assert "\n" not in str(failure.value)


def test_installed_bundle_is_served_from_a_table(
    tmp_path: Path, tarball: tuple[Path, Release]
) -> None:
    source, release = tarball
    root = tmp_path / "root"
    install(release, root, source=source, cache=tmp_path / "cache")
    bundle = load_bundle(root, release)
    assert set(bundle.assets) == {
        "LICENSE",
        "app.bundle.0f6159c501addfe9.js",
        "compute.bundle.0fc3a3ee85296cf2.js",
        "app.bundle.css",
        "0ddf166f7a343eda.wasm",
        "assets/favicon.ico",
    }
    wasm = bundle.assets["0ddf166f7a343eda.wasm"]
    assert wasm.media_type == "application/wasm" and wasm.immutable and wasm.gzipped
    assert not bundle.assets["app.bundle.css"].immutable
    assert bundle.asset("../openpacs.db") is None
    page = bundle.page("/share/abc/ohif/app-config.js").decode()
    assert '<script src="/share/abc/ohif/app-config.js"></script>' in page
    assert '<script defer src="/viewer/app.bundle.0f6159c501addfe9.js"></script>' in page
    assert 'href="/viewer/app.bundle.css"' in page and 'href="/viewer/assets/favicon.ico"' in page
    for gone in ("<script>", "init-service-worker", "manifest", 'src="/app'):
        assert gone not in page


def test_missing_bundle_falls_back(tmp_path: Path) -> None:
    settings = Settings(ohif_root=str(tmp_path / "nothing"))
    assert load_viewer(settings) is None
    assert load_viewer(Settings(ohif=False)) is None
    with pytest.raises(BundleError, match="not installed"):
        load_bundle(tmp_path, release_for())


def test_an_unknown_index_layout_is_not_served() -> None:
    with pytest.raises(BundleError, match=r"no app-config\.js"):
        page_template("<html><script src='/x.js'></script></html>")
