"""Who reads the index: an account, and for a share link the only orders it may see."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import ColumnElement, false

from openpacs.index.models import Study

__all__ = ["Viewer", "shared_studies"]


class Viewer(Protocol):
    """``services.principal.Principal`` is one; the index never imports the services."""

    @property
    def account_id(self) -> int: ...

    @property
    def share_order_ids(self) -> frozenset[int] | None: ...


def shared_studies(viewer: Viewer) -> ColumnElement[bool] | None:
    """For a share link, the studies of its orders (nothing when it has none); else None."""
    if viewer.share_order_ids is None:
        return None
    ids = sorted(viewer.share_order_ids)
    return Study.order_id.in_(ids) if ids else false()
