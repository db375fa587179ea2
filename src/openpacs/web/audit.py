"""The DICOMweb face's part of the audit trail: reads of study content, and refused calls.

A read of a study (retrieve, metadata, frames, rendered, bulk data) has no transaction of
its own, so it is recorded here, for the account's DICOMweb root and for share links'
roots alike: one event when the response starts, success or failure by its status. The
event is journaled (and with ``OPENPACS_AUDIT_SYNC`` synced,
:meth:`AuditTrail.wait_durable`) *before* the status line is sent, so an answered read
is never missing from the trail, even when the server is killed right after answering.
Successful writes are recorded by their services (STOW, DELETE); a refused or failed
write (403 for a reader's upload, 404 for a delete outside the caller's scope) is
recorded here as a failure.

PostDICOM's retrieve forms name a series or an instance without its study
(``/studies/series/{series}``): the WADO handlers put the study they found into the
request state (``audit_study``), and the event takes it from there.
"""

from __future__ import annotations

import re

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openpacs.services.audit import FAILURE, AuditTrail, Event
from openpacs.services.principal import Principal

_SLASHES = re.compile(r"/{2,}")
# A share link's token is its secret: details keep only enough of it to tell links apart.
_SHARE_TOKEN = re.compile(r"^(/share/[^/]{6})[^/]*")
# A DICOMweb root (the account's or a share's) and the path below it.
_ROOT = re.compile(r"^((?:/share/[^/]+)?/dicomweb)(/.*)?$")
_STUDY = re.compile(r"^/studies/(?!series(?:/|$))([^/]+)(?:/(.*))?$")
_POSTDICOM = re.compile(r"^/studies/series/(?:instances/)?[^/]+(/metadata)?$")
_DELETE = re.compile(r"^/studies/([^/]+)(/series/[^/]+(/instances/[^/]+)?)?$")

#: The request state key of the study a WADO handler found (PostDICOM forms).
AUDIT_STUDY = "audit_study"


def study_read_action(path: str) -> tuple[str, str] | None:
    """(action, StudyInstanceUID) for a GET of study content, else None."""
    root = _ROOT.match(path)
    match = _STUDY.match(root.group(2) or "") if root else None
    if match is None:
        return None
    rest = match.group(2) or ""
    if rest.endswith("metadata"):
        return "study.metadata", match.group(1)
    if any(part in rest for part in ("rendered", "thumbnail", "frames", "bulkdata")):
        return "study.view", match.group(1)
    if rest.endswith("series") or rest.endswith("instances"):
        return None  # a QIDO search inside the study
    return "study.retrieve", match.group(1)


def audited_action(method: str, path: str) -> tuple[str, str] | None:
    """(action, StudyInstanceUID or "") of a DICOMweb call the trail records, else None.
    Reads are recorded whatever their outcome, writes only when they fail."""
    root = _ROOT.match(path)
    if root is None:
        return None
    below = root.group(2) or ""
    if method == "GET":
        found = study_read_action(path)
        if found is not None:
            return found
        form = _POSTDICOM.match(below)
        if form is not None:
            return ("study.metadata" if form.group(1) else "study.retrieve"), ""
        return None
    if method == "POST" and (below in ("", "/studies") or _STUDY.match(below)):
        study = _STUDY.match(below)
        return "study.store", study.group(1) if study else ""
    if method == "DELETE" and (target := _DELETE.match(below)) is not None:
        level = "instance" if target.group(3) else "series" if target.group(2) else "study"
        return f"{level}.delete", target.group(1)
    return None


class AuditMiddleware:
    """See the module docstring. Place it outside the authentication middleware (the
    principal it finds in the request state is set there)."""

    def __init__(self, app: ASGIApp, audit: AuditTrail) -> None:
        self.app = app
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        path = _SLASHES.sub("/", scope["path"])
        action = audited_action(method, path)
        if action is None:
            await self.app(scope, receive, send)
            return
        # Inner layers copy the scope; a state dict made here is shared with them all.
        state = scope.setdefault("state", {})

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                await self._record(scope, state, method, action, message)
            await send(message)

        await self.app(scope, receive, send_wrapper)

    async def _record(
        self,
        scope: Scope,
        state: dict[str, object],
        method: str,
        action: tuple[str, str],
        message: Message,
    ) -> None:
        who = state.get("principal")
        status = int(message["status"])
        if not isinstance(who, Principal) or (method != "GET" and status < 400):
            return  # not signed in (401), or a write its service recorded
        study = action[1] or str(state.get(AUDIT_STUDY) or "")
        detail = _SHARE_TOKEN.sub(r"\1...", scope["path"])[:500]
        outcome = "success"
        if status >= 400:
            outcome = FAILURE
            detail = f"{status} {_reason(message)}; {detail}"
        client = scope.get("client")
        event = Event.by(
            who,
            action[0],
            study_instance_uid=study,
            detail=detail,
            outcome=outcome,
            client=client[0] if client else "",
        )
        seq = self.audit.record(event)
        if self.audit.syncs:
            await anyio.to_thread.run_sync(self.audit.wait_durable, seq)


def _reason(message: Message) -> str:
    for name, value in message.get("headers", ()):
        if bytes(name).lower() == b"x-error-reason":
            return bytes(value).decode("latin-1")[:300]
    return ""
