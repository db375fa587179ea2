"""Who is asking: the scope every service call is checked against."""

from __future__ import annotations

from dataclasses import dataclass, field

READ_ONLY_SCOPE = "read"
READ_WRITE_SCOPE = "read-write"


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: a user of an account, a share link (read-only), or a DICOM
    association acting for its equipment's account (no user).

    What the caller may do is decided by :mod:`openpacs.services.permissions` from
    ``role`` (and the token scope); what they may *see* is the read scope the index
    applies (:mod:`openpacs.index.viewer`): the account, narrowed to a share's orders, to
    a reader's assigned orders, or to the user's institutions.
    """

    account_id: int
    user_id: int | None = None
    user_uuid: str | None = None
    email: str | None = None
    role: str = "member"
    # The institutions a limited user sees and creates in; None: every institution.
    institution_ids: frozenset[int] | None = None
    # Set when the user signed in with an API token instead of the password.
    token_id: int | None = None
    token_scope: str | None = None
    # The user's credentials version when this principal was made (see auth.py).
    credentials_version: int = 0
    # The client's address, for the audit trail (set per request).
    client: str = ""
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

    @property
    def token_read_only(self) -> bool:
        return self.token_id is not None and self.token_scope != READ_WRITE_SCOPE

    @property
    def assigned_to_user_id(self) -> int | None:
        """A reader's user id: they see only the orders assigned to them or their groups
        (so does a user with a role this version does not know: fail closed)."""
        if self.share_id is None and self.role not in ("admin", "member"):
            return self.user_id if self.user_id is not None else -1
        return None
