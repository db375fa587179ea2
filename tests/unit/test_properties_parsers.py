"""Property-based tests (hypothesis) of the two parsers that read what clients send: the
multipart push parser and the custom API's parameter parser. Whatever the input, they
answer with their own error type (a 400 with a reason), never another exception; and a
well-formed multipart body reads back the same however it is cut into chunks.

Bounded run time: a few hundred small examples each, no deadline (a busy 2-core machine
must not make them flaky); failures found are kept in hypothesis's example database.
"""

from __future__ import annotations

import contextlib
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openpacs.protocol.custom_params import (
    ENDPOINTS,
    EndpointSpec,
    ParameterError,
    decode_header_value,
    parse_body,
    parse_header,
    parse_object,
)
from openpacs.protocol.multipart import (
    MultipartError,
    MultipartParser,
    PartData,
    PartEnd,
    PartStart,
    encode_parts,
)
from openpacs.web.errors import ascii_reason

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BOUNDARY = "fuzz-7d1e"

# -- multipart -------------------------------------------------------------------------


def cut(data: bytes, sizes: list[int]) -> list[bytes]:
    """``data`` in chunks of the given sizes (cycled), as a socket would hand it over."""
    chunks, at, index = [], 0, 0
    while at < len(data):
        size = max(1, sizes[index % len(sizes)]) if sizes else len(data)
        chunks.append(data[at : at + size])
        at += size
        index += 1
    return chunks


def read_all(chunks: list[bytes]) -> tuple[list[tuple[dict[str, str], bytes, bool]], str | None]:
    """The parts (headers, body, complete) and the error, if the body is malformed."""
    parser = MultipartParser(BOUNDARY)
    parts: list[tuple[dict[str, str], bytes, bool]] = []
    headers: dict[str, str] = {}
    body = bytearray()
    try:
        for events in [*(parser.feed(chunk) for chunk in chunks), parser.close()]:
            for event in events:
                if isinstance(event, PartStart):
                    headers, body = event.headers, bytearray()
                elif isinstance(event, PartData):
                    body += event.data
                elif isinstance(event, PartEnd):
                    parts.append((headers, bytes(body), event.complete))
    except MultipartError as exc:
        return parts, str(exc)
    return parts, None


payloads = st.lists(
    st.one_of(
        st.binary(max_size=300),
        # Bytes that look like the delimiter but are not it.
        st.sampled_from([b"\r\n--fuzz", b"--fuzz-7d1e", b"\r\n--fuzz-7d1", b"\r\n\r\n", b"--"]),
    ).map(bytes),
    max_size=5,
)
chunk_sizes = st.lists(st.integers(min_value=1, max_value=64), min_size=1, max_size=8)


def no_delimiter(body: bytes) -> bool:
    """A body may hold anything but its delimiter (CRLF or, leniently, LF + ``--boundary``)."""
    return b"\n--" + BOUNDARY.encode() not in b"\n" + body


@FAST
@given(
    bodies=st.lists(payloads.map(b"".join).filter(no_delimiter), min_size=1, max_size=4),
    sizes=chunk_sizes,
)
def test_well_formed_bodies_read_back_the_same_however_they_are_cut(
    bodies: list[bytes], sizes: list[int]
) -> None:
    headers = {"Content-Type": "application/dicom"}
    encoded = b"".join(encode_parts(BOUNDARY, [(headers, [body]) for body in bodies]))
    parts, error = read_all(cut(encoded, sizes))
    assert error is None
    assert [(h["content-type"], b, complete) for h, b, complete in parts] == [
        ("application/dicom", body, True) for body in bodies
    ]


@FAST
@given(data=st.binary(max_size=2000), sizes=chunk_sizes)
def test_any_bytes_are_parts_or_a_multipart_error_the_same_however_cut(
    data: bytes, sizes: list[int]
) -> None:
    whole = read_all([data] if data else [])
    assert read_all(cut(data, sizes)) == whole


@FAST
@given(
    bodies=st.lists(st.binary(max_size=200), min_size=1, max_size=3),
    cut_at=st.integers(min_value=0, max_value=10_000),
    junk=st.binary(max_size=50),
    sizes=chunk_sizes,
)
def test_a_body_cut_off_or_with_junk_keeps_its_complete_parts_whole(
    bodies: list[bytes], cut_at: int, junk: bytes, sizes: list[int]
) -> None:
    encoded = b"".join(encode_parts(BOUNDARY, [({}, [body]) for body in bodies]))
    damaged = encoded[: cut_at % (len(encoded) + 1)] + junk
    parts, _error = read_all(cut(damaged, sizes))
    for (_headers, body, complete), original in zip(parts, bodies, strict=False):
        if complete:
            assert body == original  # a part reported whole is never a damaged one


# -- custom API parameters -------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


def endpoint_objects(spec: EndpointSpec) -> st.SearchStrategy[dict[str, Any]]:
    """Objects with the endpoint's keys (and sometimes others), any JSON values."""
    keys = st.sampled_from([key.name for key in spec.keys] or ["Anything"]) | st.text(max_size=12)
    return st.dictionaries(keys, json_values | st.text(max_size=60), max_size=6)


@FAST
@given(spec=st.sampled_from(ENDPOINTS), data=st.data())
def test_any_parameter_object_is_parsed_or_refused_with_a_parameter_error(
    spec: EndpointSpec, data: st.DataObject
) -> None:
    obj = data.draw(endpoint_objects(spec))
    try:
        parse_object(spec, obj)
    except ParameterError as exc:
        served = ascii_reason(exc.reason)  # as X-Error-Reason carries it
        assert served.isascii() and served.isprintable()
        assert "NoneType" not in served and "<class" not in served


@FAST
@given(spec=st.sampled_from(ENDPOINTS), raw=st.binary(max_size=400))
def test_any_header_or_body_bytes_are_parsed_or_refused_with_a_parameter_error(
    spec: EndpointSpec, raw: bytes
) -> None:
    header = spec.header or "Parameters"
    with contextlib.suppress(ParameterError):
        parse_header(spec, decode_header_value(header, raw.decode("latin-1")))
    with contextlib.suppress(ParameterError):
        parse_body(spec, raw)


@FAST
@given(spec=st.sampled_from(ENDPOINTS), data=st.data())
def test_json_text_of_any_object_is_parsed_or_refused_as_a_header_and_as_a_body(
    spec: EndpointSpec, data: st.DataObject
) -> None:
    text = orjson.dumps(data.draw(endpoint_objects(spec))).decode()
    outcomes = []
    for parse in (lambda: parse_header(spec, text), lambda: parse_body(spec, text.encode())):
        try:
            outcomes.append(parse().values)
        except ParameterError as exc:
            outcomes.append(exc.reason)
    assert outcomes[0] == outcomes[1]  # the GET and POST forms agree
