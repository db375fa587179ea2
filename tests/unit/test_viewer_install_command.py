"""``openpacs viewer install`` as a user runs it: exit codes, its one line of output,
``already installed``, ``--from`` a local tarball, and refusals (an integrity mismatch, a
missing file, an unusable version or folder) as exit 1 and one ``openpacs: ...`` line.

The release is a small tarball in npm's layout (``tests/support/ohif_tarball.py``) chosen
with ``OPENPACS_OHIF_VERSION``/``OPENPACS_OHIF_INTEGRITY``, as a user pins another
release; the download cache is a folder of the test, which must stay empty (nothing is
fetched when ``--from`` is given or the release is installed).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from openpacs.ohif.release import Release
from tests.support.cli import CliResult, one_line_error, run_cli
from tests.support.ohif_tarball import integrity_of, make_tarball


@pytest.fixture
def tarball(tmp_path: Path) -> tuple[Path, Release]:
    path = tmp_path / "app-9.9.9.tgz"
    return path, make_tarball(path)


def viewer_install(tmp_path: Path, release: Release, *args: str) -> CliResult:
    return run_cli(
        "viewer",
        "install",
        *args,
        env={
            "OPENPACS_OHIF_VERSION": release.version,
            "OPENPACS_OHIF_INTEGRITY": release.integrity,
            "OPENPACS_OHIF_ROOT": str(tmp_path / "root"),
            "OPENPACS_OHIF": None,
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
        },
    )


def test_install_from_a_local_tarball_then_already_installed(
    tmp_path: Path, tarball: tuple[Path, Release]
) -> None:
    source, release = tarball
    target = tmp_path / "root" / "ohif-9.9.9"
    done = viewer_install(tmp_path, release, "--from", str(source))
    assert (done.returncode, done.stderr) == (0, ""), done
    assert done.stdout == f"OHIF viewer 9.9.9 installed in {target}\n"
    assert b'"/viewer/"' in (target / "app.bundle.0f6159c501addfe9.js").read_bytes()
    assert (target / "index.html").is_file()

    # Again, with or without --from: nothing to do, nothing downloaded, exit 0.
    for args in (("--from", str(source)), ()):
        again = viewer_install(tmp_path, release, *args)
        assert (again.returncode, again.stderr) == (0, ""), again
        assert again.stdout == f"OHIF viewer 9.9.9 already installed in {target}\n"
    assert not (tmp_path / "cache").exists()
    assert source.is_file()  # the user's copy is left alone


def test_integrity_mismatch_is_refused_in_one_line(
    tmp_path: Path, tarball: tuple[Path, Release]
) -> None:
    source, release = tarball
    pinned = Release(release.version, integrity_of(b"the tarball the registry published"))
    done = viewer_install(tmp_path, pinned, "--from", str(source))
    one_line_error(done, 1, f"{source}: sha512 does not match the pinned integrity")
    assert "OHIF viewer not installed" in done.stderr and "runs without it" in done.stderr
    assert done.stdout == ""
    assert not (tmp_path / "root" / "ohif-9.9.9").exists()
    assert source.is_file()  # refused, not deleted: it is the user's file


def test_a_missing_tarball_is_refused_in_one_line(
    tmp_path: Path, tarball: tuple[Path, Release]
) -> None:
    _, release = tarball
    missing = tmp_path / "nowhere.tgz"
    one_line_error(
        viewer_install(tmp_path, release, "--from", str(missing)), 1, f"{missing} is not a file"
    )


def test_a_root_that_cannot_be_made_is_refused_in_one_line(
    tmp_path: Path, tarball: tuple[Path, Release]
) -> None:
    source, release = tarball
    (tmp_path / "root").write_text("a file where the folder should be")
    one_line_error(
        viewer_install(tmp_path, release, "--from", str(source)), 1, str(tmp_path / "root")
    )


@pytest.mark.parametrize(
    ("version", "integrity", "message"),
    [
        ("../../etc", "", "is not a version"),
        ("3.12.0", "", "OPENPACS_OHIF_INTEGRITY"),
        ("3.12.0", "sha256-abc", "must be a sha512"),
    ],
)
def test_an_unusable_release_is_refused_in_one_line(
    tmp_path: Path, tarball: tuple[Path, Release], version: str, integrity: str, message: str
) -> None:
    source, _ = tarball
    one_line_error(
        viewer_install(tmp_path, Release(version, integrity), "--from", str(source)), 1, message
    )
    assert not (tmp_path / "root").exists()
