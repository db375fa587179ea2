"""Who may do what: the role table, checked by the services (never by the faces).

Every face (DICOMweb, the custom API, share links, the command line, the DICOM listener)
calls the same service functions, and each service asks :func:`require` before it does
anything, so a role means the same everywhere. The table below is the README's role
table; the tests walk it cell by cell and, through the route tables, endpoint by
endpoint.

Order of checks: the role first, then the lookup. A reader asking to delete anything
gets 403 whether it exists or not (nothing is revealed); a reader asking to *read* an
order that is not assigned to them gets 404, exactly as for another account's order,
because the read scope (:mod:`openpacs.index.viewer`) simply does not contain it.

An API token narrows its user's role: a read-only token may only read. Tokens are
managed with the password (never with a token), so a leaked token can neither mint
itself a successor nor hide by revoking the others.
"""

from __future__ import annotations

from enum import StrEnum

from openpacs.services.errors import Forbidden
from openpacs.services.principal import Principal

__all__ = [
    "ACTION_WORDS",
    "ROLE_TABLE",
    "Action",
    "Grant",
    "Role",
    "grant_of",
    "require",
]


class Role(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"
    READER = "reader"


class Action(StrEnum):
    READ = "read"  # studies, orders and folders (and the account's directory lists)
    WRITE = "write"  # upload; create and change orders, folders, assignments, shares
    DELETE = "delete"  # studies, series, instances, orders
    REVOKE_SHARE = "revoke-share"  # list and delete share links
    READ_AUDIT = "read-audit"  # the audit trail
    OWN_TOKENS = "own-tokens"  # create, list and revoke one's own API tokens
    ADMINISTER = "administer"  # users, groups, institutions, equipment (web admin pages)


class Grant(StrEnum):
    ALL = "all"  # everything in the account (within the user's institutions, if limited)
    ASSIGNED = "assigned"  # only orders assigned to the user or one of their groups
    OWN = "own"  # only what the user made (shares, tokens)
    NONE = "no"


_A, _M, _R = Role.ADMIN, Role.MEMBER, Role.READER

#: action -> role -> grant. The README's role table is this table.
ROLE_TABLE: dict[Action, dict[Role, Grant]] = {
    Action.READ: {_A: Grant.ALL, _M: Grant.ALL, _R: Grant.ASSIGNED},
    Action.WRITE: {_A: Grant.ALL, _M: Grant.ALL, _R: Grant.NONE},
    Action.DELETE: {_A: Grant.ALL, _M: Grant.NONE, _R: Grant.NONE},
    Action.REVOKE_SHARE: {_A: Grant.ALL, _M: Grant.OWN, _R: Grant.NONE},
    Action.READ_AUDIT: {_A: Grant.ALL, _M: Grant.NONE, _R: Grant.NONE},
    Action.OWN_TOKENS: {_A: Grant.OWN, _M: Grant.OWN, _R: Grant.OWN},
    Action.ADMINISTER: {_A: Grant.ALL, _M: Grant.NONE, _R: Grant.NONE},
}

#: What an action is, in the words of a refusal ("your role (reader) may not ...").
ACTION_WORDS: dict[Action, str] = {
    Action.READ: "read studies and orders",
    Action.WRITE: "upload, or create and change orders, folders, assignments and shares",
    Action.DELETE: "delete studies, series, instances or orders",
    Action.REVOKE_SHARE: "list or delete share links",
    Action.READ_AUDIT: "read the audit trail",
    Action.OWN_TOKENS: "manage API tokens",
    Action.ADMINISTER: "manage the account's users, groups, institutions and equipment",
}


def _role(who: Principal) -> Role:
    try:
        return Role(who.role)
    except ValueError:
        return Role.READER  # an unknown stored role gets the least (fail closed)


def grant_of(who: Principal, action: Action) -> Grant:
    """What ``who`` may do of ``action`` (NONE when not allowed at all)."""
    if who.share_id is not None:
        return Grant.ASSIGNED if action is Action.READ else Grant.NONE
    grant = ROLE_TABLE[action][_role(who)]
    if who.token_id is not None and grant is not Grant.NONE:
        if action is Action.OWN_TOKENS:
            return Grant.NONE
        if who.token_read_only and action is not Action.READ:
            return Grant.NONE
    return grant


def require(who: Principal, action: Action) -> Grant:
    """The grant of ``who`` for ``action``; :class:`Forbidden` with the reason when none."""
    grant = grant_of(who, action)
    if grant is Grant.NONE:
        raise Forbidden(refusal(who, action))
    return grant


def refusal(who: Principal, action: Action) -> str:
    """Why ``who`` may not do ``action``, in one line a user can act on."""
    words = ACTION_WORDS[action]
    if who.share_id is not None:
        return f"a share link is read-only: it may not {words}"
    if who.token_id is not None and ROLE_TABLE[action][_role(who)] is not Grant.NONE:
        if action is Action.OWN_TOKENS:
            return "API tokens are managed with the password, not with a token"
        return f"this API token is read-only: it may not {words}"
    return f"your role ({who.role}) may not {words}"
