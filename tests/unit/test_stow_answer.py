"""A STOW-RS answer read back onto the files: the whole reason of a failure when the
server sends it, "already stored" apart from "stored"."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openpacs.client.local_files import LocalFile
from openpacs.client.results import FileResult
from openpacs.client.stow_answer import private_value, results_from_answer
from openpacs.client.upload import mark_second_copies

LONG = (
    "Number of Frames (0028,0008) has an invalid value '1A': not an integer string, so "
    "the frames of this instance cannot be found"
)
BATCH = [LocalFile(0, Path("a.dcm"), 10, "1.1"), LocalFile(1, Path("b.dcm"), 20, "1.2")]


def _uid(value: str) -> dict[str, Any]:
    return {"vr": "UI", "Value": [value]}


def _failed(uid: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "00000902": {"vr": "LO", "Value": [LONG[:64]]},
        "00081197": {"vr": "US", "Value": [0xC000]},
        "00081155": _uid(uid),
        **extra,
    }


def _answer(stored: list[dict[str, Any]], failed: list[dict[str, Any]]) -> dict[str, Any]:
    return {"00081199": {"vr": "SQ", "Value": stored}, "00081198": {"vr": "SQ", "Value": failed}}


def test_without_the_extension_the_error_comment_is_the_reason() -> None:
    results = results_from_answer(BATCH, _answer([], [_failed("1.1", {})]), "none")
    assert results[0].reason == f"{LONG[:64]} (0xC000 cannot understand)"


def test_the_whole_reason_from_the_openpacs_private_block() -> None:
    private = {
        "00090010": {"vr": "LO", "Value": ["OPENPACS"]},
        "00091001": {"vr": "UT", "Value": [LONG]},
    }
    results = results_from_answer(BATCH, _answer([], [_failed("1.1", private)]), "none")
    assert results[0].reason == f"{LONG} (0xC000 cannot understand)"


def test_the_private_block_is_found_by_its_creator_wherever_it_is() -> None:
    item = {
        "00090010": {"vr": "LO", "Value": ["OTHER VENDOR"]},
        "00091001": {"vr": "UT", "Value": ["not ours"]},
        "00090011": {"vr": "LO", "Value": ["OPENPACS"]},
        "00091101": {"vr": "UT", "Value": ["ours"]},
    }
    assert private_value(item, 0x01) == "ours"
    assert private_value({"00091001": {"vr": "UT", "Value": ["x"]}}, 0x01) is None


def test_already_stored_instances_are_told_apart() -> None:
    again = {
        "00081155": _uid("1.1"),
        "00090010": {"vr": "LO", "Value": ["OPENPACS"]},
        "00091002": {"vr": "CS", "Value": ["ALREADY_STORED"]},
    }
    new = {"00081155": _uid("1.2")}
    results = results_from_answer(BATCH, _answer([again, new], []), "none")
    assert [r.status for r in results] == ["already_stored", "stored"]


def test_a_second_file_of_one_instance_is_already_stored() -> None:
    """Copies all reported stored (a server without the ALREADY_STORED mark): the first
    stays stored. Where the server marked the copies, its word stands (1.7: the copy that
    arrived first is the stored one, whatever its place in the folder)."""
    files = [
        FileResult(Path("x/1.dcm"), "stored", "1.9"),
        FileResult(Path("x/2.dcm"), "failed", "1.8", reason="bad"),
        FileResult(Path("y/1-copy.dcm"), "stored", "1.9"),
        FileResult(Path("y/3.dcm"), "already_stored", "1.7"),
        FileResult(Path("z/3-copy.dcm"), "stored", "1.7"),
    ]
    marked = mark_second_copies(files)
    assert [f.status for f in marked] == [
        "stored",
        "failed",
        "already_stored",
        "already_stored",
        "stored",
    ]
    assert "same SOP Instance UID as 1.dcm" in marked[2].reason


def _at(part: int, item: dict[str, Any]) -> dict[str, Any]:
    return {
        **item,
        "00090010": {"vr": "LO", "Value": ["OPENPACS"]},
        "00091003": {"vr": "UL", "Value": [part]},
    }


def test_answers_go_to_the_file_of_their_part() -> None:
    """Two files of one instance and a part without a UID: only the part position tells
    which answer is whose (by UID, the failure would land on the first copy)."""
    batch = [
        LocalFile(0, Path("implicit.dcm"), 10, "1.9"),
        LocalFile(1, Path("truncated.dcm"), 20, "1.9"),
        LocalFile(2, Path("no-meta.dcm"), 30, "1.8"),
    ]
    answer = _answer(
        [_at(1, {"00081155": _uid("1.9")})],
        [_at(3, _failed("", {})), _at(2, _failed("1.9", {}))],
    )
    results = results_from_answer(batch, answer, "none")
    assert [(r.path.name, r.status) for r in results] == [
        ("implicit.dcm", "stored"),
        ("truncated.dcm", "failed"),
        ("no-meta.dcm", "failed"),
    ]
    assert [r.size for r in results] == [10, 20, 30]


def test_a_position_outside_the_batch_falls_back_to_the_uid() -> None:
    answer = _answer([_at(7, {"00081155": _uid("1.2")})], [_at(0, _failed("1.1", {}))])
    results = results_from_answer(BATCH, answer, "none")
    assert [r.status for r in results] == ["failed", "stored"]
