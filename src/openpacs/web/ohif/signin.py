"""Who may open ``/viewer/``: a user of an account, signed in.

HTTP Basic (the e-mail and password, or an API token as the password), checked like the
DICOMweb root's: the same authenticator and cache, the same failure limiter (so this page
is no way around the DICOMweb root's limit on password guessing). Without credentials
the answer is 401 with a Basic challenge: the browser asks for them once and sends them
with OHIF's DICOMweb requests too (same origin, same realm).
"""

from __future__ import annotations

import anyio
from starlette.requests import Request
from starlette.responses import Response

from openpacs.protocol.basic_auth import basic_credentials
from openpacs.services.auth import Authenticator, AuthResult
from openpacs.services.ratelimit import FailureLimiter, retry_after_header
from openpacs.web.errors import error_response

CHALLENGE = {"WWW-Authenticate": 'Basic realm="openpacs"', "Cache-Control": "no-store"}


async def _result(request: Request, email: str, password: str) -> AuthResult | Response:
    authenticator: Authenticator = request.app.state.authenticator
    limiter: FailureLimiter = request.app.state.login_limiter
    if authenticator.epoch_due():
        await anyio.to_thread.run_sync(authenticator.check_epoch)
    cached = authenticator.cached(email, password)
    if cached is not None:
        return cached
    key = email.strip().lower()
    wait = limiter.blocked(key)
    if wait is not None:
        reason = "too many failed logins for this user name; try again later"
        return error_response(429, reason, retry_after_header(wait))
    result = await anyio.to_thread.run_sync(authenticator.authenticate, email, password)
    if result.principal is None and not result.refusal:
        limiter.failure(key)
    else:
        limiter.success(key)
    return result


async def signed_in_or_challenge(request: Request) -> Response | None:
    """None when the caller is a signed-in user; else the answer to send instead."""
    credentials = basic_credentials(request.headers.get("authorization", ""))
    if credentials is None:
        return error_response(401, "sign in to open the viewer", CHALLENGE)
    result = await _result(request, *credentials)
    if isinstance(result, Response):
        return result
    if result.principal is None:
        if result.refusal:
            return error_response(403, result.refusal)
        return error_response(401, result.reason, CHALLENGE)
    return None
