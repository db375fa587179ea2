"""The role table: the README's is the code's, cell by cell, and tokens and share links
only ever narrow a role."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from openpacs.services.errors import Forbidden
from openpacs.services.permissions import ROLE_TABLE, Action, Grant, Role, grant_of, require
from openpacs.services.principal import Principal

README = Path(__file__).resolve().parents[2] / "README.md"
WORDS = {"all": Grant.ALL, "assigned": Grant.ASSIGNED, "own": Grant.OWN, "no": Grant.NONE}


def readme_role_table() -> dict[Action, dict[Role, Grant]]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## Roles and permissions\n") :]
    section = section[: section.index("\n## ", 1)]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert header[1:] == ["admin", "member", "reader"]
    table: dict[Action, dict[Role, Grant]] = {}
    for line in rows[1:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        found = re.search(r"\(`([a-z-]+)`\)$", cells[0])
        assert found, f"a README role row names no permission: {cells[0]}"
        table[Action(found.group(1))] = {
            Role(role): WORDS[word] for role, word in zip(header[1:], cells[1:], strict=True)
        }
    return table


def test_the_readme_role_table_is_the_role_table() -> None:
    assert readme_role_table() == ROLE_TABLE


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_each_cell_is_what_require_grants(action: Action, role: Role) -> None:
    who = Principal(1, user_id=1, role=role.value)
    expected = ROLE_TABLE[action][role]
    if expected is Grant.NONE:
        with pytest.raises(Forbidden, match=rf"your role \({role.value}\) may not"):
            require(who, action)
    else:
        assert require(who, action) is expected


def test_a_read_only_token_reads_and_nothing_else() -> None:
    token = Principal(1, user_id=1, role="admin", token_id=5, token_scope="read")
    assert grant_of(token, Action.READ) is Grant.ALL
    for action in (Action.WRITE, Action.DELETE, Action.REVOKE_SHARE, Action.READ_AUDIT):
        with pytest.raises(Forbidden, match="this API token is read-only"):
            require(token, action)


def test_a_read_write_token_has_its_users_role_but_cannot_manage_tokens() -> None:
    member = Principal(1, user_id=1, role="member", token_id=5, token_scope="read-write")
    assert grant_of(member, Action.WRITE) is Grant.ALL
    with pytest.raises(Forbidden, match="your role \\(member\\) may not delete"):
        require(member, Action.DELETE)  # a token never widens the role
    with pytest.raises(Forbidden, match="managed with the password"):
        require(member, Action.OWN_TOKENS)


def test_a_share_link_reads_its_orders_only() -> None:
    share = Principal(1, share_id=3, share_order_ids=frozenset({7}))
    assert grant_of(share, Action.READ) is Grant.ASSIGNED
    with pytest.raises(Forbidden, match="share link is read-only"):
        require(share, Action.WRITE)


def test_an_unknown_role_gets_the_least() -> None:
    odd = Principal(1, user_id=9, role="superuser")
    assert grant_of(odd, Action.READ) is Grant.ASSIGNED
    assert grant_of(odd, Action.WRITE) is Grant.NONE
    assert odd.assigned_to_user_id == 9


def test_only_readers_are_narrowed_to_their_assignments() -> None:
    assert Principal(1, user_id=2, role="reader").assigned_to_user_id == 2
    assert Principal(1, user_id=2, role="member").assigned_to_user_id is None
    assert Principal(1, share_id=1, share_order_ids=frozenset()).assigned_to_user_id is None
