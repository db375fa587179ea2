"""The SDK's access calls on the wire: tokens, the audit trail, Bearer sign-in."""

from __future__ import annotations

import json

import anyio
import httpx
import pytest

from openpacs.client import AsyncPacsClient, PacsClient
from tests.unit.test_client_wire import ROOT, Recorder, make_client, param_header


def test_a_token_signs_in_as_bearer() -> None:
    rec = Recorder()
    with PacsClient(ROOT, token=" opat_abc ", transport=httpx.MockTransport(rec)) as client:
        client.list_institutions()
    assert rec.last.headers["authorization"] == "Bearer opat_abc"
    with pytest.raises(ValueError, match="not both"):
        PacsClient(ROOT, "me", "pw", token="opat_abc")


def test_async_client_takes_a_token_too() -> None:
    rec = Recorder()

    async def go() -> None:
        async with AsyncPacsClient(ROOT, token="opat_x", transport=httpx.MockTransport(rec)) as c:
            await c.list_api_tokens()

    anyio.run(go)
    assert rec.last.headers["authorization"] == "Bearer opat_x"


def test_create_api_token_sends_every_key_and_reads_the_secret() -> None:
    answer = {"ApiTokenUuid": "u-1", "TokenName": "ci", "Scope": "read", "Token": "opat_s"}
    rec = Recorder(lambda request: httpx.Response(200, json=answer))
    with make_client(rec) as client:
        token = client.create_api_token("ci", "2030-01-31", scope="read")
        with pytest.raises(ValueError, match="scope"):
            client.create_api_token("ci", "2030-01-31", scope="admin")
    sent = json.loads(param_header(rec.last, "CreateApiTokenParameters"))
    assert sent == {"TokenName": "ci", "ExpireDate": "2030-01-31", "Scope": "read"}
    assert token.token == "opat_s" and token.active and "opat_s" not in repr(token)


def test_the_audit_log_filters_and_paging() -> None:
    answer = {
        "AuditEventList": [{"EventTime": "t", "Action": "study.view", "PatientId": "P1"}],
        "Limit": 1,
        "Offset": 0,
        "More": True,
    }
    rec = Recorder(lambda request: httpx.Response(200, json=answer))
    with make_client(rec) as client:
        page = client.get_audit_log(patient_id="P1", action="study.*", limit=1)
    sent = json.loads(param_header(rec.last, "GetAuditLogParameters"))
    assert sent["PatientId"] == "P1" and sent["Action"] == "study.*" and sent["Limit"] == "1"
    assert sent["DateFrom"] == "" and sent["User"] == ""
    assert page.more and [e.patient_id for e in page] == ["P1"]
