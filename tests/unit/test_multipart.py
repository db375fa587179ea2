"""multipart/related parser and encoder (openpacs.protocol.multipart)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import random
import re
import tracemalloc
from collections.abc import AsyncIterator, Iterable, Sequence

import pytest

from openpacs.protocol.multipart import (
    Event,
    MultipartError,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    aencode_parts,
    closing_delimiter,
    encode_parts,
    get_boundary,
    multipart_content_type,
    new_boundary,
    parse_content_type,
    part_header,
)

Part = tuple[dict[str, str], bytes, bool]


def collect(events: Iterable[Event]) -> list[Part]:
    """Fold events into (headers, body, complete) triples, checking their order."""
    parts: list[Part] = []
    headers: dict[str, str] | None = None
    body = bytearray()
    for event in events:
        if isinstance(event, PartStart):
            assert headers is None, "PartStart inside a part"
            headers, body = event.headers, bytearray()
        elif isinstance(event, PartData):
            assert headers is not None, "PartData outside a part"
            assert event.data, "empty PartData"
            body += event.data
        else:
            assert headers is not None, "PartEnd outside a part"
            parts.append((headers, bytes(body), event.complete))
            headers = None
    assert headers is None, "part left open"
    return parts


def parse(
    body: bytes, boundary: str | bytes, sizes: Sequence[int] | None = None
) -> tuple[list[Part], bool]:
    """Feed ``body`` in chunks of the given sizes (cycled); return parts and truncated."""
    parser = MultipartParser(boundary)
    events: list[Event] = []
    if not sizes:
        events += parser.feed(body)
    else:
        pos, k = 0, 0
        while pos < len(body):
            size = sizes[k % len(sizes)]
            events += parser.feed(body[pos : pos + size])
            pos += size
            k += 1
    events += parser.close()
    return collect(events), parser.truncated


def random_sizes(rng: random.Random, max_size: int, count: int = 200) -> list[int]:
    return [rng.randint(1, max_size) for _ in range(count)]


SPLITS: list[Sequence[int] | None] = [None, [1], [2], [3], [7], [64], [1, 2, 3, 5, 8, 13]]


# --------------------------------------------------------------------------- content type


@pytest.mark.parametrize(
    ("value", "media_type", "params"),
    [
        (
            'multipart/related; boundary="DICOM DATA BOUNDARY"; type="application/dicom"',
            "multipart/related",
            {"boundary": "DICOM DATA BOUNDARY", "type": "application/dicom"},
        ),
        (
            'multipart/related; type="application/dicom"; boundary=abc123',
            "multipart/related",
            {"type": "application/dicom", "boundary": "abc123"},
        ),
        (
            "Multipart/Related;BOUNDARY=AbC;Type=application/dicom",
            "multipart/related",
            {"boundary": "AbC", "type": "application/dicom"},
        ),
        (
            '  multipart/related ;; ; boundary = "a b" ;  ; start="<x>";',
            "multipart/related",
            {"boundary": "a b", "start": "<x>"},
        ),
        (r'multipart/related; boundary="a\"b\\c"', "multipart/related", {"boundary": 'a"b\\c'}),
        (
            'multipart/related; boundary="x;y=z"; type=t/u',
            "multipart/related",
            {"boundary": "x;y=z", "type": "t/u"},
        ),
        ("application/dicom", "application/dicom", {}),
        ("application/dicom;", "application/dicom", {}),
        ("application/dicom; flag; a=1", "application/dicom", {"a": "1"}),
        ("text/plain; a=1; a=2", "text/plain", {"a": "1"}),
        ("text/plain; a=", "text/plain", {"a": ""}),
        ('text/plain; a="unterminated', "text/plain", {"a": "unterminated"}),
        ('text/plain; a="x" junk; b=2', "text/plain", {"a": "x", "b": "2"}),
        ("*/*", "*/*", {}),
    ],
)
def test_parse_content_type(value: str, media_type: str, params: dict[str, str]) -> None:
    assert parse_content_type(value) == (media_type, params)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "multipart",
        "/related",
        "multipart/",
        ";;;",
        "; boundary=x",
        "multi part/related",
        "a/b/c",
        "a/b c",
        "(a)/b",
    ],
)
def test_parse_content_type_garbage(value: str) -> None:
    with pytest.raises(MultipartError, match="not a media type"):
        parse_content_type(value)


def test_multipart_error_is_value_error() -> None:
    assert issubclass(MultipartError, ValueError)


def test_get_boundary() -> None:
    assert get_boundary('multipart/related; type="application/dicom"; boundary="A B"') == "A B"
    with pytest.raises(MultipartError, match="expected a multipart"):
        get_boundary("application/dicom; boundary=x")
    with pytest.raises(MultipartError, match="no boundary"):
        get_boundary('multipart/related; type="application/dicom"')
    with pytest.raises(MultipartError, match="no boundary"):
        get_boundary('multipart/related; boundary=""')


# --------------------------------------------------------------------------- encoder


def test_new_boundary_is_random_hex() -> None:
    values = {new_boundary() for _ in range(50)}
    assert len(values) == 50
    for value in values:
        assert re.fullmatch(r"[0-9a-f]{32}", value)


def test_part_header_bytes() -> None:
    headers = {"Content-Type": "application/dicom", "Content-Length": "3"}
    assert part_header("b1", headers, first=True) == (
        b"--b1\r\nContent-Type: application/dicom\r\nContent-Length: 3\r\n\r\n"
    )
    assert part_header("b1", headers) == (
        b"\r\n--b1\r\nContent-Type: application/dicom\r\nContent-Length: 3\r\n\r\n"
    )
    assert part_header("b1", {}, first=True) == b"--b1\r\n\r\n"
    assert closing_delimiter("b1") == b"\r\n--b1--\r\n"


@pytest.mark.parametrize(
    ("headers", "boundary"),
    [({"X": "a\r\nEvil: 1"}, "b"), ({"X\n": "a"}, "b"), ({}, "b\r\n")],
)
def test_part_header_rejects_line_breaks(headers: dict[str, str], boundary: str) -> None:
    with pytest.raises(ValueError, match="line break"):
        part_header(boundary, headers)


def test_multipart_content_type() -> None:
    assert (
        multipart_content_type("abc", "application/dicom")
        == 'multipart/related; type="application/dicom"; boundary=abc'
    )
    assert multipart_content_type("abc", "application/dicom", "1.2.840.10008.1.2.1") == (
        'multipart/related; type="application/dicom"; '
        "transfer-syntax=1.2.840.10008.1.2.1; boundary=abc"
    )
    assert multipart_content_type("a b", "application/octet-stream", "*") == (
        'multipart/related; type="application/octet-stream"; transfer-syntax=*; boundary="a b"'
    )
    # The result parses back to the same values.
    media_type, params = parse_content_type(multipart_content_type("a b", "image/jpeg"))
    assert media_type == "multipart/related"
    assert params == {"type": "image/jpeg", "boundary": "a b"}


def test_encode_parts_exact() -> None:
    body = b"".join(
        encode_parts(
            "XX",
            [({"Content-Type": "application/dicom"}, [b"ab", b"", b"c"]), ({}, iter([b"d"]))],
        )
    )
    assert body == (
        b"--XX\r\nContent-Type: application/dicom\r\n\r\nabc\r\n--XX\r\n\r\nd\r\n--XX--\r\n"
    )


def test_encode_parts_streams_lazily() -> None:
    consumed: list[int] = []

    def body(n: int) -> Iterable[bytes]:
        consumed.append(n)
        yield b"x" * n

    stream = encode_parts("b", ((({"N": str(n)}), body(n)) for n in (1, 2)))
    assert next(stream) == part_header("b", {"N": "1"}, first=True)
    assert consumed == []  # the body is only read when its bytes are needed
    assert next(stream) == b"x"
    assert consumed == [1]


def test_aencode_parts_matches_encode_parts() -> None:
    parts_spec = [({"Content-Type": "application/dicom"}, [b"abc", b"\r\n", b""]), ({}, [])]

    async def abody(chunks: list[bytes]) -> AsyncIterator[bytes]:
        for chunk in chunks:
            await asyncio.sleep(0)
            yield chunk

    async def aparts() -> AsyncIterator[tuple[dict[str, str], AsyncIterator[bytes]]]:
        for headers, chunks in parts_spec:
            yield headers, abody(chunks)

    async def run() -> tuple[bytes, bytes]:
        async_all = b"".join([c async for c in aencode_parts("q", aparts())])
        sync_parts = [(h, c) for h, c in parts_spec]  # sync iterables are accepted too
        mixed = b"".join([c async for c in aencode_parts("q", sync_parts)])
        return async_all, mixed

    async_all, mixed = asyncio.run(run())
    expected = b"".join(encode_parts("q", parts_spec))
    assert async_all == expected
    assert mixed == expected


def test_encode_no_parts() -> None:
    body = b"".join(encode_parts("b", []))
    assert body == b"\r\n--b--\r\n"
    assert parse(body, "b") == ([], False)


# --------------------------------------------------------------------------- round trips


def _piece(rng: random.Random, boundary: bytes) -> bytes:
    choice = rng.randrange(12)
    if choice < 4:
        return rng.randbytes(rng.randint(0, 300))
    return [
        b"\r\n",
        b"\r",
        b"\n",
        b"--",
        b"\r\n\r\n",
        b"--" + boundary,  # boundary text not at a line start
        b"\r\n--" + boundary + b"x",  # boundary prefix of a longer word
        b"\r\n--" + boundary[:-1],  # almost a delimiter
    ][choice - 4]


_REAL_DELIMITER_CACHE: dict[bytes, re.Pattern[bytes]] = {}


def _contains_delimiter(data: bytes, boundary: bytes) -> bool:
    pattern = _REAL_DELIMITER_CACHE.get(boundary)
    if pattern is None:
        # Whatever the parser would take for a delimiter, including at the end of the
        # data where the encoder's own CRLF follows.
        pattern = re.compile(
            rb"\n--" + re.escape(boundary) + rb"(?:--|[ \t]*\r?\n|[ \t]*\r?\Z|-?\Z)"
        )
        _REAL_DELIMITER_CACHE[boundary] = pattern
    return pattern.search(data) is not None


def random_parts(rng: random.Random, boundary: bytes) -> list[tuple[dict[str, str], bytes]]:
    parts = []
    for n in range(rng.randint(1, 5)):
        while True:
            data = b"".join(_piece(rng, boundary) for _ in range(rng.randint(0, 12)))
            if not _contains_delimiter(data, boundary):
                break
        headers = {"content-type": "application/dicom", "x-index": str(n)}
        if rng.random() < 0.2:
            headers = {}
        parts.append((headers, data))
    return parts


@pytest.mark.parametrize("seed", range(40))
def test_round_trip_random_splits(seed: int) -> None:
    rng = random.Random(seed)
    boundary = rng.choice([new_boundary(), "DICOM DATA BOUNDARY", "x", "--=_a'()+_,-./:=?"])
    raw = boundary.encode()
    parts = random_parts(rng, raw)
    body = b"".join(encode_parts(boundary, [(h, [d]) for h, d in parts]))
    expected = [(h, d, True) for h, d in parts]
    split_patterns = [
        *SPLITS,
        random_sizes(rng, 10),
        random_sizes(rng, 300),
        random_sizes(rng, 5000),
    ]
    for sizes in split_patterns:
        assert parse(body, boundary, sizes) == (expected, False), sizes
    assert parse(body, raw) == (expected, False)  # bytes boundary


def test_round_trip_chunked_bodies() -> None:
    rng = random.Random(1234)
    data = [rng.randbytes(rng.randint(0, 20000)) for _ in range(6)]
    boundary = new_boundary()
    body = b"".join(
        encode_parts(
            boundary, [({"N": str(i)}, [d[:10], d[10:500], d[500:]]) for i, d in enumerate(data)]
        )
    )
    for sizes in [None, [1], random_sizes(rng, 100), random_sizes(rng, 70000)]:
        parts, truncated = parse(body, boundary, sizes)
        assert not truncated
        assert [p[1] for p in parts] == data
        assert [p[0] for p in parts] == [{"n": str(i)} for i in range(6)]


# --------------------------------------------------------------------------- edge cases


def test_postdicom_style_upload() -> None:
    # Quoted boundary with spaces, type after boundary, no Content-Length in the part.
    content_type = 'multipart/related; boundary="DICOM DATA BOUNDARY"; type="application/dicom"'
    boundary = get_boundary(content_type)
    payload = b"\x00" * 128 + b"DICM" + b"\r\n--DICOM DATA" + b"\x01\x02"
    body = (
        b"--DICOM DATA BOUNDARY\r\nContent-Type: application/dicom\r\n\r\n"
        + payload
        + b"\r\n--DICOM DATA BOUNDARY--\r\n"
    )
    for sizes in SPLITS:
        assert parse(body, boundary, sizes) == (
            [({"content-type": "application/dicom"}, payload, True)],
            False,
        )


def test_preamble_and_epilogue_are_ignored() -> None:
    body = (
        b"This is the preamble.\r\n--b ignored\r\nalso --b\r\n"
        b"--b\r\nA: 1\r\n\r\none\r\n--b\r\n\r\ntwo\r\n--b--\r\n"
        b"epilogue\r\n--b\r\nA: 2\r\n\r\nnot a part\r\n--b--\r\n"
    )
    for sizes in SPLITS:
        assert parse(body, "b", sizes) == (
            [({"a": "1"}, b"one", True), ({}, b"two", True)],
            False,
        )


def test_first_delimiter_without_leading_crlf_and_with_it() -> None:
    expected: tuple[list[Part], bool] = ([({}, b"x", True)], False)
    assert parse(b"--b\r\n\r\nx\r\n--b--", "b") == expected
    assert parse(b"\r\n--b\r\n\r\nx\r\n--b--", "b") == expected
    assert parse(b"\n--b\r\n\r\nx\r\n--b--", "b") == expected


def test_close_delimiter_without_trailing_crlf() -> None:
    for sizes in SPLITS:
        assert parse(b"--b\r\nA: 1\r\n\r\nx\r\n--b--", "b", sizes) == (
            [({"a": "1"}, b"x", True)],
            False,
        )


def test_missing_final_boundary_sets_truncated() -> None:
    body = b"--b\r\nA: 1\r\n\r\nfirst\r\n--b\r\nA: 2\r\n\r\nsecond part, cut"
    for sizes in SPLITS:
        assert parse(body, "b", sizes) == (
            [({"a": "1"}, b"first", True), ({"a": "2"}, b"second part, cut", False)],
            True,
        )


def test_truncated_inside_held_back_bytes() -> None:
    # The body stops in the middle of what could have become a delimiter: those bytes
    # are part data of an incomplete part.
    body = b"--boundary\r\n\r\ndata\r\n--bound"
    for sizes in SPLITS:
        assert parse(body, "boundary", sizes) == ([({}, b"data\r\n--bound", False)], True)


@pytest.mark.parametrize("tail", [b"\r\n--b", b"\r\n--b  ", b"\r\n--b\r", b"\r\n--b-", b"\n--b"])
def test_last_delimiter_without_close_marker(tail: bytes) -> None:
    # The last part is whole, only "--" (or the line end) of the close delimiter is
    # missing: the part is complete, the body is flagged truncated.
    for sizes in SPLITS:
        assert parse(b"--b\r\n\r\nabc" + tail, "b", sizes) == ([({}, b"abc", True)], True)


def test_ends_after_delimiter_line_or_inside_headers() -> None:
    assert parse(b"--b\r\n\r\nabc\r\n--b\r\n", "b") == ([({}, b"abc", True)], True)
    assert parse(b"--b\r\n\r\nabc\r\n--b\r\nContent-Type: app", "b") == (
        [({}, b"abc", True)],
        True,
    )


def test_close_delimiter_only() -> None:
    assert parse(b"--b--\r\n", "b") == ([], False)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00" * 128 + b"DICM" + b"\x02\x00" * 100,
        b'{"not": "multipart"}',
        b"--other\r\n\r\nx\r\n--other--\r\n",
        b"--bx\r\n\r\nx\r\n--bx--\r\n",  # the boundary is a prefix of the one used
    ],
)
def test_not_multipart(body: bytes) -> None:
    parser = MultipartParser("b")
    assert parser.feed(body) == []
    with pytest.raises(MultipartError, match="no multipart boundary found in the body"):
        parser.close()


def test_not_multipart_keeps_memory_bounded() -> None:
    parser = MultipartParser("boundary")
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(100):
            assert parser.feed(b"\r\n--boundar" + b"y" * 1000) == []
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held - before < 10_000  # the 100 kB fed are not kept
    with pytest.raises(MultipartError):
        parser.close()


def test_boundary_inside_data_is_not_split() -> None:
    data = b"a--b\r\nx --b\r\n\r\n--bb\r\n--b_\r\n--b-x\r\n--b -\r\n--b\tz\r\n"
    body = b"--b\r\n\r\n" + data + b"\r\n--b--\r\n"
    for sizes in SPLITS:
        assert parse(body, "b", sizes) == ([({}, data, True)], False)


def test_crlf_crlf_inside_data() -> None:
    data = b"\r\n\r\nheader-like: value\r\n\r\n\r\n"
    body = b"--b\r\nA: 1\r\n\r\n" + data + b"\r\n--b--"
    for sizes in SPLITS:
        assert parse(body, "b", sizes) == ([({"a": "1"}, data, True)], False)


@pytest.mark.parametrize(
    "data", [b"", b"\r", b"\r\n", b"\r\n\r\n", b"\n", b"-", b"--", b"--b-", b"\r\r", b"x\r"]
)
def test_data_edges_before_delimiter(data: bytes) -> None:
    body = b"".join(encode_parts("b", [({"A": "1"}, [data]), ({}, [data]), ({"B": "2"}, [])]))
    expected = [({"a": "1"}, data, True), ({}, data, True), ({"b": "2"}, b"", True)]
    for sizes in SPLITS:
        assert parse(body, "b", sizes) == (expected, False)


def test_empty_parts() -> None:
    body = b"--b\r\n\r\n\r\n--b\r\nA: 1\r\n\r\n\r\n--b--\r\n"
    for sizes in SPLITS:
        assert parse(body, "b", sizes) == ([({}, b"", True), ({"a": "1"}, b"", True)], False)


def test_part_without_headers_starts_with_crlf() -> None:
    # RFC 2046: no headers means the delimiter line is followed by an empty line.
    body = b"--b\r\n\r\nHeader-Like: not a header\r\n--b--"
    assert parse(body, "b") == ([({}, b"Header-Like: not a header", True)], False)


def test_transport_padding() -> None:
    body = b"--b \t \r\nA: 1\r\n\r\nx\r\n--b\t\r\n\r\ny\r\n--b-- \r\n"
    for sizes in SPLITS:
        assert parse(body, "b", sizes) == ([({"a": "1"}, b"x", True), ({}, b"y", True)], False)


def test_too_much_padding() -> None:
    parser = MultipartParser("b")
    with pytest.raises(MultipartError, match="padding"):
        parser.feed(b"--b" + b" " * 5000 + b"\r\n")


def test_lf_only_line_endings() -> None:
    body = b"--b\nContent-Type: application/dicom\n\nx\r\ny\n--b\n\nz\n--b--\n"
    for sizes in SPLITS:
        assert parse(body, "b", sizes) == (
            [({"content-type": "application/dicom"}, b"x\r\ny", True), ({}, b"z", True)],
            False,
        )


def test_headers_normalised() -> None:
    body = (
        b"--b\r\nContent-Type:  application/dicom \r\nX-Dup: 1\r\nx-dup: 2\r\n"
        b"X-Folded: a\r\n  b\r\n\tc\r\nEmpty:\r\nContent-Location: caf\xc3\xa9\r\n\r\nd\r\n--b--"
    )
    for sizes in SPLITS:
        parts, _ = parse(body, "b", sizes)
        assert parts == [
            (
                {
                    "content-type": "application/dicom",
                    "x-dup": "1, 2",
                    "x-folded": "a b c",
                    "empty": "",
                    "content-location": "caf\u00e9",
                },
                b"d",
                True,
            )
        ]


def test_latin1_header_fallback() -> None:
    parts, _ = parse(b"--b\r\nX: caf\xe9\r\n\r\nd\r\n--b--", "b")
    assert parts[0][0] == {"x": "caf\u00e9"}


def test_content_length_is_ignored() -> None:
    body = (
        b"--b\r\nContent-Type: application/dicom\r\nContent-Length: 2\r\n\r\nabcdef"
        b"\r\n--b\r\nContent-Length: 999999\r\n\r\nxy\r\n--b--"
    )
    parts, truncated = parse(body, "b")
    assert [p[1] for p in parts] == [b"abcdef", b"xy"]
    assert not truncated


@pytest.mark.parametrize(
    "header_block",
    [b"no colon here\r\n", b": empty name\r\n", b"bad name: x\r\n", b" folded first\r\n"],
)
def test_malformed_header_line(header_block: bytes) -> None:
    parser = MultipartParser("b")
    with pytest.raises(MultipartError, match="malformed header line in multipart part 1"):
        parser.feed(b"--b\r\n" + header_block + b"\r\nbody\r\n--b--")


def test_header_too_large() -> None:
    parser = MultipartParser("b", max_header_bytes=100)
    with pytest.raises(MultipartError, match="exceed 100 bytes"):
        parser.feed(b"--b\r\n" + b"X: 1\r\n" * 30 + b"\r\nbody\r\n--b--")
    # Also when the oversized header arrives in small pieces without a line break.
    parser = MultipartParser("b", max_header_bytes=100)
    parser.feed(b"--b\r\nX: ")
    with pytest.raises(MultipartError, match="exceed 100 bytes"):
        for _ in range(20):
            parser.feed(b"y" * 10)


def test_header_limit_is_per_part() -> None:
    block = b"X: " + b"y" * 80 + b"\r\n"  # 85 bytes, under the 100 byte limit
    body = b"--b\r\n" + block + b"\r\n1\r\n--b\r\n" + block + b"\r\n2\r\n--b--"
    parser = MultipartParser("b", max_header_bytes=100)
    parts = collect(parser.feed(body) + parser.close())
    assert [p[1] for p in parts] == [b"1", b"2"]


def test_many_parts_in_one_chunk() -> None:
    parts_in = [({"I": str(i)}, [str(i).encode()]) for i in range(500)]
    body = b"".join(encode_parts("b", parts_in))
    parts, truncated = parse(body, "b")
    assert [p[1] for p in parts] == [str(i).encode() for i in range(500)]
    assert not truncated


def test_parser_lifecycle() -> None:
    parser = MultipartParser("b")
    assert parser.feed(b"") == []
    events = parser.feed(b"--b\r\n\r\nx\r\n--b--\r\ntrailing")
    assert events == [PartStart({}), PartData(b"x"), PartEnd(complete=True)]
    assert parser.feed(b"more epilogue") == []
    assert parser.close() == []
    assert parser.close() == []
    assert parser.truncated is False
    with pytest.raises(RuntimeError):
        parser.feed(b"x")


def test_events_are_frozen() -> None:
    event = PartData(b"x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = b"y"  # type: ignore[misc]


@pytest.mark.parametrize("boundary", ["", b"", "a\r\nb", "\u20ac"])
def test_bad_boundary(boundary: str | bytes) -> None:
    with pytest.raises(MultipartError):
        MultipartParser(boundary)


def test_data_is_emitted_without_buffering_the_part() -> None:
    parser = MultipartParser("b")
    events = parser.feed(b"--b\r\n\r\n" + b"x" * 1000)
    # Everything but a delimiter-sized tail is released at once.
    released = sum(len(e.data) for e in events if isinstance(e, PartData))
    assert released >= 1000 - len(b"\r\n--b")


def test_large_part_streams_with_bounded_memory() -> None:
    boundary = new_boundary()
    block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB of non-repeating-ish bytes
    total = 50 * 1024 * 1024
    chunk = 64 * 1024
    head = part_header(boundary, {"Content-Type": "application/dicom"}, first=True)
    tail = closing_delimiter(boundary)
    parser = MultipartParser(boundary)
    digest_in, digest_out = hashlib.sha256(), hashlib.sha256()
    received = 0
    max_held = 0  # bytes fed but not yet released

    def consume(events: list[Event]) -> None:
        nonlocal received
        for event in events:
            if isinstance(event, PartData):
                digest_out.update(event.data)
                received += len(event.data)

    consume(parser.feed(head))
    sent = 0
    while sent < total:
        # Shift chunk boundaries so that they do not line up with the block.
        piece = block[sent % 7 :][:chunk]
        digest_in.update(piece)
        sent += len(piece)
        before = received
        consume(parser.feed(piece))
        assert received > before  # data flows out on every feed
        max_held = max(max_held, sent - received)
    consume(parser.feed(tail))
    consume(parser.close())
    assert received == sent
    assert digest_out.digest() == digest_in.digest()
    assert max_held <= len(boundary) + 8
    assert not parser.truncated
