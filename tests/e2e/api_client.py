"""Calls of the custom API the way PostDICOM's sample clients make them, and the POST form.

``csharp`` mimics the C# sample: GET, every key of the table sent, values as strings
(skipped prompts as "", booleans as "True"/"False", lists as JSON text and order-info
lists double encoded), a stray ``ContentType`` header and no ``Accept`` header.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy.orm import Session

from openpacs.index.db import Database
from openpacs.protocol.custom_params import ENDPOINTS
from tests.support.server import ServerProcess, TestAccount

BY_PATH = {spec.path: spec for spec in ENDPOINTS}


def as_header_strings(params: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in params.items():
        if isinstance(value, bool):
            out[name] = "True" if value else "False"
        elif isinstance(value, list):
            out[name] = json.dumps(value)
        else:
            out[name] = str(value)
    return out


def all_keys(path: str, params: dict[str, Any]) -> dict[str, Any]:
    """Every (non-extension) key of the table, "" for the ones not in ``params``."""
    spec = BY_PATH[path]
    full: dict[str, Any] = {key.name: "" for key in spec.keys if not key.extension}
    full.update(params)
    return full


def csharp(
    server: ServerProcess,
    account: TestAccount,
    path: str,
    params: dict[str, Any] | None = None,
    *,
    ascii_only: bool = False,
    every_key: bool = True,
) -> httpx.Response:
    spec = BY_PATH[path]
    # Bytes, so that non-ASCII values go out as raw UTF-8 (httpx would refuse str).
    headers: dict[bytes, bytes] = {b"ContentType": b"application/json"}
    if spec.header is not None:
        obj = as_header_strings(all_keys(path, params or {}) if every_key else params or {})
        value = json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8")
        headers[spec.header.encode("ascii")] = value
    with httpx.Client(auth=account.auth, timeout=30) as client:
        del client.headers["accept"]
        return client.get(server.dicomweb + path, headers=headers)


def post(
    server: ServerProcess, account: TestAccount, path: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    return httpx.post(server.dicomweb + path, json=body or {}, auth=account.auth, timeout=30)


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, (response.status_code, response.text)
    assert "x-error-reason" not in response.headers
    body: dict[str, Any] = response.json()
    return body


def error(response: httpx.Response, status: int, *words: str) -> str:
    assert response.status_code == status, (response.status_code, response.text)
    reason = response.headers["x-error-reason"]
    assert response.json()["Error"] == reason
    for word in words:
        assert word in reason, (word, reason)
    return reason


@contextmanager
def database(server: ServerProcess) -> Iterator[Session]:
    db = Database(server.database_url)
    try:
        with db.session() as session:
            yield session
    finally:
        db.dispose()


def in_db(server: ServerProcess, work: Callable[[Session], Any]) -> Any:
    with database(server) as session:
        return work(session)


def order_params(account: TestAccount, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "InstitutionUuid": account.institution_uuid,
        "PatientName": "Doe^John",
        "PatientId": "PID-1",
        "PatientBirthdate": "1970-05-17",
        "Modality": "CT",
    }
    params.update(overrides)
    return params


def create_order(server: ServerProcess, account: TestAccount, **overrides: Any) -> dict[str, Any]:
    return ok(post(server, account, "/createpatientorder", order_params(account, **overrides)))


def stow(server: ServerProcess, account: TestAccount, *files: bytes) -> httpx.Response:
    """The PostDICOM form: POST {WebAddress}/, quoted boundary with spaces, no lengths."""
    boundary = b"DICOM DATA BOUNDARY"
    body = b"".join(
        b"--" + boundary + b"\r\nContent-Type: application/dicom\r\n\r\n" + data + b"\r\n"
        for data in files
    )
    body += b"--" + boundary + b"--\r\n"
    content_type = 'multipart/related; boundary="DICOM DATA BOUNDARY"; type="application/dicom"'
    return httpx.post(
        server.dicomweb + "/",
        content=body,
        headers={"Content-Type": content_type},
        auth=account.auth,
        timeout=60,
    )


def required_keys(*paths: str) -> list[tuple[str, str]]:
    """(path, key) for every required key of these endpoints: test parameters."""
    return [(path, key.name) for path in paths for key in BY_PATH[path].keys if key.required]


def blank_key_is_missing(
    server: ServerProcess, account: TestAccount, path: str, params: dict[str, Any], key: str
) -> dict[str, Any]:
    """Send the endpoint's own keys in the C# header form with ``key`` blank: a 400 naming
    it. Returns those parameters, for the test to try other spellings of "missing"."""
    spec = BY_PATH[path]
    own = {k: v for k, v in params.items() if spec.has_key(k)}
    own[key] = ""
    error(csharp(server, account, path, own), 400, key, "missing")
    return own


def response_properties(document: dict[str, Any], path: str) -> set[str]:
    """The property names of an endpoint's 200 answer in the OpenAPI document."""
    content = document["paths"][path]["post"]["responses"]["200"]["content"]
    ref = content["application/json"]["schema"]["$ref"]
    return set(document["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"])
