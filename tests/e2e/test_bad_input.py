"""Bad input on the wire gets a clear 4xx, at once: never a dropped connection, a hang,
a 5xx or a Python name in the reason. Raw sockets where an HTTP client would refuse to
send what a hostile or broken one does.

One server (SQLite) with small limits: OPENPACS_MAX_REQUEST_BYTES and OPENPACS_MAX_PARTS.
"""

from __future__ import annotations

import base64
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from bench.dataset import make_instance

from tests.support.server import ServerProcess, TestAccount
from tests.support.specs import small_spec
from tests.support.stow import BOUNDARY, multipart_body

MAX_BYTES = 200_000
MAX_PARTS = 3
STOW_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "OPENPACS_MAX_REQUEST_BYTES": str(MAX_BYTES),
        "OPENPACS_MAX_PARTS": str(MAX_PARTS),
        "OPENPACS_LOG_LEVEL": "info",
        "OPENPACS_ACCESS_LOG": "false",
    }
    process = ServerProcess(tmp_path_factory.mktemp("limited"), env=env).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def user(limited: ServerProcess) -> TestAccount:
    return limited.create_account()


def exchange(server: ServerProcess, raw: bytes, *, wait: float = 5) -> tuple[bytes, float]:
    """Send ``raw``, read until the server closes (or ``wait`` passes): (answer, seconds)."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", server.port), timeout=wait) as sock:
        sock.sendall(raw)
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except TimeoutError:
            pass
    return answer, time.monotonic() - started


def basic(account: TestAccount) -> bytes:
    return b"Basic " + base64.b64encode(f"{account.email}:{account.password}".encode())


def head_of(answer: bytes) -> tuple[int, dict[str, str]]:
    assert answer, "the server closed the connection without an answer"
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    fields = dict(line.split(": ", 1) for line in head[1:])
    return int(head[0].split()[1]), {k.lower(): v for k, v in fields.items()}


def assert_clear(reason: str) -> None:
    assert reason.isascii() and reason.isprintable()
    assert "Error" not in reason and "Exception" not in reason and "NoneType" not in reason


def test_a_nul_in_the_url_path_is_answered_400(limited: ServerProcess, user: TestAccount) -> None:
    # Before: the 404's X-Error-Reason carried the NUL and the connection dropped unanswered.
    for path in (b"/dicomweb/studies/%00", b"/dicomweb/studies/1.2%0A3/series", b"/%1b[2J"):
        raw = b"GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n\r\n" % (path, basic(user))
        status, headers = head_of(exchange(limited, raw)[0])
        assert status == 400, path
        assert "control characters" in headers["x-error-reason"]


def test_a_parameter_header_that_is_not_utf8_is_a_400_naming_it(
    limited: ServerProcess, user: TestAccount
) -> None:
    raw = (
        b"GET /dicomweb/getpatientorderlist HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
        b'GetPatientOrderListParameters: {"PatientName": "M\xfcller"}\r\n\r\n'
    ) % basic(user)
    status, headers = head_of(exchange(limited, raw)[0])
    assert status == 400
    assert headers["x-error-reason"].startswith("GetPatientOrderListParameters: ")
    assert "not UTF-8" in headers["x-error-reason"]


def test_a_json_object_where_a_list_is_expected_is_a_400(
    limited: ServerProcess, user: TestAccount
) -> None:
    answer = httpx.post(
        f"{limited.dicomweb}/getpatientorderlist",
        json={"ModalityList": {"CT": True}},
        auth=user.auth,
    )
    assert answer.status_code == 400
    assert answer.headers["x-error-reason"] == "ModalityList: must be a list, not an object"


def test_an_overflowing_chunk_size_is_answered_400_at_once(
    limited: ServerProcess, user: TestAccount
) -> None:
    # Before: the server waited for 16 EiB that never came.
    raw = (
        b"POST /dicomweb/studies HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
        b"Content-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nabc"
    ) % (basic(user), STOW_TYPE.encode())
    answer, seconds = exchange(limited, raw)
    status, headers = head_of(answer)
    assert status == 400 and seconds < 2
    assert "ffffffffffffffff overflows" in headers["x-error-reason"]
    assert headers["connection"] == "close"


def test_a_chunk_larger_than_the_request_limit_is_answered_413_at_once(
    limited: ServerProcess, user: TestAccount
) -> None:
    raw = (
        b"POST /dicomweb/studies HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
        b"Content-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\nabc"
    ) % (basic(user), STOW_TYPE.encode(), MAX_BYTES + 1)
    answer, seconds = exchange(limited, raw)
    status, headers = head_of(answer)
    assert status == 413 and seconds < 2
    assert f"limit of {MAX_BYTES} bytes" in headers["x-error-reason"]


def stow(
    server: ServerProcess, account: TestAccount, body: bytes | Iterator[bytes]
) -> httpx.Response:
    return httpx.post(
        f"{server.dicomweb}/studies",
        content=body,
        headers={"Content-Type": STOW_TYPE},
        auth=account.auth,
        timeout=60,
    )


def test_a_declared_length_over_the_limit_is_413_before_reading(
    limited: ServerProcess, user: TestAccount
) -> None:
    answer = stow(limited, user, b"x" * (MAX_BYTES + 1))
    assert answer.status_code == 413
    assert (
        f"limit of {MAX_BYTES} bytes (OPENPACS_MAX_REQUEST_BYTES)"
        in answer.headers["x-error-reason"]
    )


def test_a_streamed_body_over_the_limit_is_413_and_keeps_what_ended_before(
    limited: ServerProcess, user: TestAccount
) -> None:
    first = make_instance(small_spec("limit-bytes", 1, 1))
    rest = make_instance(small_spec("limit-bytes", 1, 2, rows=512, columns=512))
    body = multipart_body([first, rest])
    assert len(first) < MAX_BYTES < len(body)

    def chunks() -> Iterator[bytes]:  # chunked: the length is not declared
        for start in range(0, len(body), 16384):
            yield body[start : start + 16384]

    answer = stow(limited, user, chunks())
    assert answer.status_code == 413
    assert f"limit of {MAX_BYTES} bytes" in answer.headers["x-error-reason"]
    listed = orjson.loads(answer.content)["00081199"]["Value"]
    assert [item["00081155"]["Value"] for item in listed] == [
        [small_spec("limit-bytes", 1, 1).sop_uid]
    ]


def test_more_parts_than_the_limit_is_413_naming_it(
    limited: ServerProcess, user: TestAccount
) -> None:
    parts = [make_instance(small_spec("limit-parts", 1, n)) for n in range(MAX_PARTS + 1)]
    answer = stow(limited, user, multipart_body(parts))
    assert answer.status_code == 413
    assert f"more than {MAX_PARTS} parts" in answer.headers["x-error-reason"]


def test_a_client_that_leaves_mid_upload_is_one_log_line(
    limited: ServerProcess, user: TestAccount
) -> None:
    body = multipart_body([make_instance(small_spec("leaver", 1, 1))])
    raw = (
        b"POST /dicomweb/studies HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\n"
        b"Content-Type: %s\r\nContent-Length: %d\r\n\r\n"
    ) % (basic(user), STOW_TYPE.encode(), len(body))
    with socket.create_connection(("127.0.0.1", limited.port)) as sock:
        sock.sendall(raw + body[: len(body) // 2])
        time.sleep(0.3)
    deadline = time.monotonic() + 5
    log = Path(limited.log_path)
    while "client disconnected" not in log.read_text() and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text()
    assert "client disconnected" in text
    assert "Traceback" not in text and "ClientDisconnect" not in text
    # And the server keeps answering.
    assert httpx.get(f"{limited.url}/healthz").status_code == 200


def test_every_reason_above_reads_as_words(limited: ServerProcess, user: TestAccount) -> None:
    for raw in (
        b"GET /dicomweb/studies/%00 HTTP/1.1\r\nHost: x\r\nAuthorization: "
        + basic(user)
        + b"\r\n\r\n",
        b"GET /dicomweb/studies/\xff\xfe HTTP/1.1\r\nHost: x\r\nAuthorization: "
        + basic(user)
        + b"\r\n\r\n",
    ):
        status, headers = head_of(exchange(limited, raw)[0])
        assert 400 <= status < 500
        assert_clear(headers["x-error-reason"])
