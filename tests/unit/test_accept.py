"""PS3.18 8.7 content negotiation (openpacs.protocol.accept)."""

from __future__ import annotations

import pytest

from openpacs.protocol.accept import (
    BadAccept,
    Choice,
    MediaRange,
    NotAcceptable,
    Offer,
    accepts_gzip,
    negotiate,
    parse_accept,
)

EVRLE = "1.2.840.10008.1.2.1"
JPEG_BASELINE = "1.2.840.10008.1.2.4.50"
RLE = "1.2.840.10008.1.2.5"
MR_DICOM = 'multipart/related; type="application/dicom"'

# Study/series retrieval: DICOM files (as stored by default, transcodable to EVRLE and
# JPEG baseline), bulk data parts, or a ZIP of the files.
WADO = [
    Offer("multipart/related", "application/dicom", ("*", EVRLE, JPEG_BASELINE), "*"),
    Offer("multipart/related", "application/octet-stream", ("*", EVRLE)),
    Offer("application/zip"),
]
# Instance retrieval also allows a single-part application/dicom answer.
INSTANCE = [*WADO, Offer("application/dicom", transfer_syntaxes=("*", EVRLE))]
METADATA = [Offer("application/dicom+json")]
QIDO = [Offer("application/dicom+json"), Offer("application/json")]
RENDERED = [Offer("image/jpeg"), Offer("image/png"), Offer("image/gif")]
FRAMES = [
    Offer("multipart/related", "application/octet-stream", ("*", EVRLE)),
    Offer("multipart/related", "image/jpeg", (JPEG_BASELINE,)),
]

AS_STORED = Choice("multipart/related", "application/dicom", "*")
ZIP = Choice("application/zip")


# --------------------------------------------------------------------------- parse_accept


def test_missing_accept_means_anything() -> None:
    assert parse_accept([]) == []
    assert parse_accept([""]) == []
    assert parse_accept(["  ", " , ,"]) == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("*/*", [MediaRange("*", "*")]),
        (
            "application/json, text/plain, */*",
            [MediaRange("application", "json"), MediaRange("text", "plain"), MediaRange("*", "*")],
        ),
        ("image/*;q=0.5", [MediaRange("image", "*", {}, 0.5)]),
        ("Application/DICOM+JSON; Q=0.25", [MediaRange("application", "dicom+json", {}, 0.25)]),
        ("a/b;q=0", [MediaRange("a", "b", {}, 0.0)]),
        ("a/b;q=1.000", [MediaRange("a", "b", {}, 1.0)]),
        ("a/b;q=.5", [MediaRange("a", "b", {}, 0.5)]),
        ("a/b;q=0.12345", [MediaRange("a", "b", {}, 0.12345)]),
        ("a/b; charset=UTF-8", [MediaRange("a", "b", {"charset": "UTF-8"})]),
        (
            f'multipart/related; type="application/dicom"; transfer-syntax={EVRLE}',
            [
                MediaRange(
                    "multipart", "related", {"type": "application/dicom", "transfer-syntax": EVRLE}
                )
            ],
        ),
        (
            "multipart/related;type=application/dicom;transfer-syntax=*;q=0.9",
            [
                MediaRange(
                    "multipart",
                    "related",
                    {"type": "application/dicom", "transfer-syntax": "*"},
                    0.9,
                )
            ],
        ),
        (
            'Multipart/Related; Type="Application/DICOM"',
            [MediaRange("multipart", "related", {"type": "application/dicom"})],
        ),
        (
            # transfer-syntax nested inside the quoted type (seen in the wild)
            f'multipart/related; type="application/dicom; transfer-syntax={EVRLE}"',
            [
                MediaRange(
                    "multipart", "related", {"type": "application/dicom", "transfer-syntax": EVRLE}
                )
            ],
        ),
        (
            # a comma inside a quoted value does not split the list
            'multipart/related; type="application/dicom"; x="a, b", image/png',
            [
                MediaRange("multipart", "related", {"type": "application/dicom", "x": "a, b"}),
                MediaRange("image", "png"),
            ],
        ),
        ("a/b; transfer-syntax= ", [MediaRange("a", "b")]),
        ("a/b,,c/d,", [MediaRange("a", "b"), MediaRange("c", "d")]),
    ],
)
def test_parse_accept(value: str, expected: list[MediaRange]) -> None:
    assert parse_accept([value]) == expected


def test_parse_accept_several_header_values() -> None:
    assert parse_accept(["image/png", "image/jpeg;q=0.5"]) == [
        MediaRange("image", "png"),
        MediaRange("image", "jpeg", {}, 0.5),
    ]


def test_accept_query_parameter_replaces_header() -> None:
    header = ["application/dicom+json"]
    assert parse_accept(header, query=["application/zip"]) == [MediaRange("application", "zip")]
    assert parse_accept(header, query=["image/png", "image/gif"]) == [
        MediaRange("image", "png"),
        MediaRange("image", "gif"),
    ]
    # A blank query parameter does not count as present.
    assert parse_accept(header, query=[""]) == [MediaRange("application", "dicom+json")]
    assert parse_accept([], query=["*/*"]) == [MediaRange("*", "*")]


@pytest.mark.parametrize(
    "value",
    [
        "application",
        ";;;",
        "a/b;q=abc",
        "a/b;q=1.5",
        "a/b;q=2",
        "a/b;q=-1",
        "a/b;q=",
        "a/b;q=nan",
        "a/b;q=inf",
        "a/b;q=0.5.1",
        "*/json",
        "a/b c",
        "/b",
        "text/html, junk",
        "multipart/related; type=dicom",
        'multipart/related; type=""',
    ],
)
def test_parse_accept_malformed(value: str) -> None:
    with pytest.raises(BadAccept):
        parse_accept([value])


def test_malformed_query_parameter_is_an_error_even_with_a_good_header() -> None:
    with pytest.raises(BadAccept):
        parse_accept(["*/*"], query=["nonsense"])


def test_bad_accept_is_value_error_with_readable_message() -> None:
    with pytest.raises(BadAccept, match=r"q value '1\.5'"):
        parse_accept(["a/b;q=1.5"])
    with pytest.raises(BadAccept) as info:
        parse_accept(["caf\u00e9\n"])
    assert str(info.value) == "malformed media range in Accept: 'caf\\xe9'"
    assert issubclass(BadAccept, ValueError)
    assert issubclass(NotAcceptable, ValueError)


def test_media_range_helpers() -> None:
    (rng,) = parse_accept(
        [f'multipart/related; type="application/dicom"; transfer-syntax={EVRLE}; q=0.5']
    )
    assert rng.media_type == "multipart/related"
    assert (
        str(rng) == f'multipart/related; type="application/dicom"; transfer-syntax={EVRLE}; q=0.5'
    )
    assert [r.specificity for r in parse_accept(["*/*, image/*, image/png"])] == [0, 1, 2]


# --------------------------------------------------------------------------- Offer


def test_offer_normalises_and_defaults() -> None:
    offer = Offer("Multipart/Related", "Application/DICOM", [EVRLE, "*"])  # type: ignore[arg-type]
    assert offer.media_type == "multipart/related"
    assert offer.part_type == "application/dicom"
    assert offer.transfer_syntaxes == (EVRLE, "*")
    assert offer.default_transfer_syntax == EVRLE  # the first listed
    assert Offer("application/zip").default_transfer_syntax is None
    assert str(WADO[0]) == f"{MR_DICOM} (transfer-syntax *, {EVRLE}, {JPEG_BASELINE})"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"media_type": "zip"},
        {"media_type": "multipart/related", "part_type": "dicom"},
        {"media_type": "application/dicom+json", "part_type": "application/json"},
        {
            "media_type": "application/dicom",
            "transfer_syntaxes": (EVRLE,),
            "default_transfer_syntax": RLE,
        },
        {"media_type": "application/dicom", "default_transfer_syntax": EVRLE},
    ],
)
def test_offer_validation(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        Offer(**kwargs)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- negotiate


NEGOTIATION_TABLE: list[tuple[str, list[str], list[Offer], str | None, Choice]] = [
    # (name, Accept values, offers, transfer-syntax query parameter, expected choice)
    ("missing accept -> default", [], WADO, None, AS_STORED),
    ("*/* -> default", ["*/*"], WADO, None, AS_STORED),
    ("node client header", ["application/json, text/plain, */*"], WADO, None, AS_STORED),
    (
        "browser header",
        ["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
        WADO,
        None,
        AS_STORED,
    ),
    ("explicit multipart dicom", [MR_DICOM], WADO, None, AS_STORED),
    ("multipart without type -> default part type", ["multipart/related"], WADO, None, AS_STORED),
    ("multipart/* -> default", ["multipart/*"], WADO, None, AS_STORED),
    ("zip", ["application/zip"], WADO, None, ZIP),
    ("application/* -> first application offer", ["application/*"], WADO, None, ZIP),
    (
        "bulk data part type",
        ['multipart/related; type="application/octet-stream"'],
        WADO,
        None,
        Choice("multipart/related", "application/octet-stream", "*"),
    ),
    ("part type wildcard", ['multipart/related; type="application/*"'], WADO, None, AS_STORED),
    ("q ordering: zip preferred", [f"{MR_DICOM}; q=0.5, application/zip"], WADO, None, ZIP),
    (
        "q ordering: dicom preferred",
        [f"application/zip;q=0.4, {MR_DICOM};q=0.8"],
        WADO,
        None,
        AS_STORED,
    ),
    ("equal q: client order", [f"application/zip, {MR_DICOM}"], WADO, None, ZIP),
    ("equal q: concrete before wildcard", ["*/*, application/zip"], WADO, None, ZIP),
    ("wildcard with higher q wins", ["*/*, application/zip;q=0.5"], WADO, None, AS_STORED),
    ("q=0 excludes from wildcard", ["*/*, multipart/related;q=0"], WADO, None, ZIP),
    (
        "specific range sets the q of its offer",
        [f"{MR_DICOM};q=0.2, */*"],
        [WADO[0], WADO[2]],
        None,
        ZIP,
    ),
    (
        "q=0 wildcard does not exclude a concrete range",
        ["*/*;q=0, application/zip"],
        WADO,
        None,
        ZIP,
    ),
    (
        "transfer syntax in accept",
        [f"{MR_DICOM}; transfer-syntax={EVRLE}"],
        WADO,
        None,
        Choice("multipart/related", "application/dicom", EVRLE),
    ),
    ("transfer syntax *", [f"{MR_DICOM}; transfer-syntax=*"], WADO, None, AS_STORED),
    (
        "nested transfer syntax",
        [f'multipart/related; type="application/dicom; transfer-syntax={JPEG_BASELINE}"'],
        WADO,
        None,
        Choice("multipart/related", "application/dicom", JPEG_BASELINE),
    ),
    (
        "unsupported syntax falls back to lower-q wildcard",
        [f"{MR_DICOM}; transfer-syntax={RLE}, */*;q=0.1"],
        WADO,
        None,
        AS_STORED,
    ),
    (
        "unsupported syntax falls back to other range",
        [f"{MR_DICOM}; transfer-syntax={RLE}, application/zip;q=0.5"],
        WADO,
        None,
        ZIP,
    ),
    (
        "query transfer syntax",
        [],
        WADO,
        EVRLE,
        Choice("multipart/related", "application/dicom", EVRLE),
    ),
    (
        "query transfer syntax with wildcard",
        ["*/*"],
        WADO,
        EVRLE,
        Choice("multipart/related", "application/dicom", EVRLE),
    ),
    (
        "accept transfer syntax beats query",
        [f"{MR_DICOM}; transfer-syntax={JPEG_BASELINE}"],
        WADO,
        EVRLE,
        Choice("multipart/related", "application/dicom", JPEG_BASELINE),
    ),
    ("query transfer syntax * ", [], WADO, "*", AS_STORED),
    ("query transfer syntax ignored by zip", ["application/zip"], WADO, RLE, ZIP),
    (
        "query transfer syntax ignored by json",
        [],
        METADATA,
        EVRLE,
        Choice("application/dicom+json"),
    ),
    (
        "single-part instance",
        ["application/dicom"],
        INSTANCE,
        None,
        Choice("application/dicom", None, "*"),
    ),
    (
        "single-part instance with syntax",
        [f"application/dicom; transfer-syntax={EVRLE}"],
        INSTANCE,
        None,
        Choice("application/dicom", None, EVRLE),
    ),
    (
        "metadata with node header",
        ["application/json, text/plain, */*"],
        METADATA,
        None,
        Choice("application/dicom+json"),
    ),
    ("qido default", [], QIDO, None, Choice("application/dicom+json")),
    (
        "qido node header picks the named json",
        ["application/json, text/plain, */*"],
        QIDO,
        None,
        Choice("application/json"),
    ),
    ("qido dicom+json", ["application/dicom+json"], QIDO, None, Choice("application/dicom+json")),
    ("rendered image/*", ["image/*"], RENDERED, None, Choice("image/jpeg")),
    ("rendered png", ["image/png"], RENDERED, None, Choice("image/png")),
    (
        "rendered unknown then wildcard",
        ["image/webp, image/*;q=0.5"],
        RENDERED,
        None,
        Choice("image/jpeg"),
    ),
    (
        "rendered png over gif by q",
        ["image/gif;q=0.3, image/png;q=0.7"],
        RENDERED,
        None,
        Choice("image/png"),
    ),
    (
        "frames default",
        [],
        FRAMES,
        None,
        Choice("multipart/related", "application/octet-stream", "*"),
    ),
    (
        "frames multipart without type",
        ["multipart/related"],
        FRAMES,
        None,
        Choice("multipart/related", "application/octet-stream", "*"),
    ),
    (
        "frames jpeg",
        ['multipart/related; type="image/jpeg"'],
        FRAMES,
        None,
        Choice("multipart/related", "image/jpeg", JPEG_BASELINE),
    ),
    (
        "frames jpeg, * means server's choice",
        ['multipart/related; type="image/jpeg"; transfer-syntax=*'],
        FRAMES,
        None,
        Choice("multipart/related", "image/jpeg", JPEG_BASELINE),
    ),
    (
        "frames octet-stream as EVRLE",
        [f'multipart/related; type="application/octet-stream"; transfer-syntax={EVRLE}'],
        FRAMES,
        None,
        Choice("multipart/related", "application/octet-stream", EVRLE),
    ),
]


@pytest.mark.parametrize(
    ("accept", "offers", "ts_param", "expected"),
    [case[1:] for case in NEGOTIATION_TABLE],
    ids=[case[0] for case in NEGOTIATION_TABLE],
)
def test_negotiate(
    accept: list[str], offers: list[Offer], ts_param: str | None, expected: Choice
) -> None:
    assert negotiate(parse_accept(accept), offers, ts_param) == expected


NOT_ACCEPTABLE_TABLE: list[tuple[str, list[str], list[Offer], str | None, list[str]]] = [
    # (name, Accept values, offers, transfer-syntax query parameter, words in the reason)
    (
        "json on wado",
        ["application/json"],
        WADO,
        None,
        ["application/json", "multipart/related", "application/zip"],
    ),
    ("single part on a study", ["application/dicom"], WADO, None, ["application/dicom", "offered"]),
    (
        "unsupported syntax",
        [f"{MR_DICOM}; transfer-syntax={RLE}"],
        WADO,
        None,
        [RLE, EVRLE, "not available"],
    ),
    ("unsupported query syntax", [], WADO, RLE, [RLE, "not available"]),
    # "*/*" means the default offer; an unavailable syntax must not turn it into a ZIP.
    (
        "unsupported query syntax with node header",
        ["application/json, text/plain, */*"],
        WADO,
        RLE,
        [RLE],
    ),
    ("everything excluded", ["*/*;q=0"], WADO, None, ["*/*; q=0"]),
    (
        "only offer excluded",
        ["application/dicom+json;q=0"],
        METADATA,
        None,
        ["application/dicom+json"],
    ),
    (
        "excluded by specific q=0",
        ["*/*, application/*;q=0"],
        METADATA,
        None,
        ["application/dicom+json"],
    ),
    ("rendered but only json accepted", ["application/json"], RENDERED, None, ["image/jpeg"]),
    ("wrong part type", ['multipart/related; type="image/png"'], FRAMES, None, ["image/png"]),
    (
        "jpeg frames as EVRLE",
        [f'multipart/related; type="image/jpeg"; transfer-syntax={EVRLE}'],
        FRAMES,
        None,
        [EVRLE, JPEG_BASELINE],
    ),
]


@pytest.mark.parametrize(
    ("accept", "offers", "ts_param", "words"),
    [case[1:] for case in NOT_ACCEPTABLE_TABLE],
    ids=[case[0] for case in NOT_ACCEPTABLE_TABLE],
)
def test_not_acceptable(
    accept: list[str], offers: list[Offer], ts_param: str | None, words: list[str]
) -> None:
    with pytest.raises(NotAcceptable) as info:
        negotiate(parse_accept(accept), offers, ts_param)
    reason = str(info.value)
    for word in words:
        assert word in reason
    assert reason.isascii() and "\n" not in reason and len(reason) <= 500


def test_not_acceptable_reason_is_safe_ascii() -> None:
    ranges = parse_accept(['text/x-a; note="caf\u00e9 line\nbreak", image/x-' + "a" * 1000])
    with pytest.raises(NotAcceptable) as info:
        negotiate(ranges, WADO)
    reason = str(info.value)
    assert reason.isascii() and "\n" not in reason and len(reason) <= 500


def test_negotiate_needs_offers() -> None:
    with pytest.raises(ValueError, match="at least one offer"):
        negotiate([], [])


def test_accept_query_parameter_drives_negotiation() -> None:
    # GET ...?accept=application/zip with a browser's Accept header: the ZIP wins.
    ranges = parse_accept(["text/html,*/*;q=0.8"], query=["application/zip"])
    assert negotiate(ranges, WADO) == ZIP
    # ...and the header is ignored entirely, even when the query asks for the impossible.
    with pytest.raises(NotAcceptable):
        negotiate(parse_accept(["*/*"], query=["application/json"]), WADO)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", False),
        ("gzip", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("deflate, gzip;q=0.5", True),
        ("gzip;q=0", False),
        ("gzip;q=junk", False),
        ("*", True),
        ("identity", False),
        ("br;q=1, *;q=0.1", True),
        ("*, gzip;q=0", False),
        ("gzip;q=0, *", False),
    ],
)
def test_accept_encoding_gzip(header: str, expected: bool) -> None:
    assert accepts_gzip(header) is expected
