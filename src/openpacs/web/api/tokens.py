"""Handlers of the API token endpoints: parameters -> TokenService."""

from __future__ import annotations

from openpacs.services.tokens import (
    ApiTokenList,
    CreatedApiToken,
    RevokedApiToken,
    TokenService,
)
from openpacs.web.api.call import ApiCall


def _service(call: ApiCall) -> TokenService:
    return TokenService(call.ctx.db, call.ctx.settings.timezone)


def create_api_token(call: ApiCall) -> CreatedApiToken:
    p = call.params
    expire_date = p.date("ExpireDate")
    assert expire_date is not None  # required: the parser rejects requests without it
    scope = p.text("Scope") or "read"
    return _service(call).create(call.principal, p.text("TokenName"), scope, expire_date)


def get_api_token_list(call: ApiCall) -> ApiTokenList:
    return _service(call).list_tokens(call.principal)


def revoke_api_token(call: ApiCall) -> RevokedApiToken:
    return _service(call).revoke(call.principal, call.params.text("ApiTokenUuid"))
