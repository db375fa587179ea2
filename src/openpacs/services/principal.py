"""Who is asking: the scope every service call is checked against."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user of an account, a share link (read-only), or a DICOM
    association acting for its equipment's account (no user)."""

    account_id: int
    user_id: int | None = None
    user_uuid: str | None = None
    email: str | None = None
    role: str = "member"
    # Set for share-link access: only these orders are visible, nothing may be written.
    share_id: int | None = None
    share_order_ids: frozenset[int] | None = field(default=None)
    # Set for a DICOM association: the calling AE title's equipment, and the institution
    # it belongs to (new orders for what it stores are made there).
    ae_title: str | None = None
    equipment_id: int | None = None
    institution_id: int | None = None

    @property
    def read_only(self) -> bool:
        return self.share_id is not None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin" and self.share_id is None
