"""Who is asking: the scope every service call is checked against."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user of an account, or a share link (read-only)."""

    account_id: int
    user_id: int | None = None
    user_uuid: str | None = None
    email: str | None = None
    role: str = "member"
    # Set for share-link access: only these orders are visible, nothing may be written.
    share_id: int | None = None
    share_order_ids: frozenset[int] | None = field(default=None)

    @property
    def read_only(self) -> bool:
        return self.share_id is not None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin" and self.share_id is None
