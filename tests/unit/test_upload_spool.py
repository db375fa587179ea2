"""An uploaded part stays in memory while small and spills to a staging file when large."""

from __future__ import annotations

from pathlib import Path

from openpacs.services.upload import UploadSpool


def test_a_small_part_stays_in_memory(tmp_path: Path) -> None:
    spool = UploadSpool(tmp_path, memory_limit=10)
    spool.write(b"abc")
    spool.write(b"defghij")
    upload = spool.finish()
    assert (upload.data, upload.path) == (b"abcdefghij", None)
    assert list(tmp_path.iterdir()) == []


def test_a_large_part_spills_to_one_staging_file_in_order(tmp_path: Path) -> None:
    spool = UploadSpool(tmp_path, memory_limit=10)
    for chunk in (b"abcd", b"efgh", b"ijkl", b"mnop"):
        spool.write(chunk)
    upload = spool.finish()
    assert upload.data is None and upload.path is not None
    assert upload.path.parent == tmp_path
    assert upload.path.read_bytes() == b"abcdefghijklmnop"
    upload.discard()
    assert list(tmp_path.iterdir()) == []


def test_discarding_a_part_mid_way_leaves_nothing(tmp_path: Path) -> None:
    spool = UploadSpool(tmp_path, memory_limit=4)
    spool.write(b"0123456789")
    assert len(list(tmp_path.iterdir())) == 1
    spool.discard()
    assert list(tmp_path.iterdir()) == []
