"""What every handler needs, built once at start-up and kept on ``app.state.ctx``."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from openpacs.index.db import Database
from openpacs.services.audit import AuditTrail
from openpacs.services.principal import Principal
from openpacs.services.render_cache import RenderCache
from openpacs.services.store import StoreService
from openpacs.services.stow import Limits, StowDriver
from openpacs.settings import Settings
from openpacs.storage.base import BlobStore


@dataclass
class AppContext:
    settings: Settings
    db: Database
    blobs: BlobStore
    # The write path; one per process (it owns the group-commit thread).
    store: StoreService
    audit: AuditTrail
    # STOW-RS requests: spooled, stored through ``store``, audited (built from the above).
    stow: StowDriver = field(init=False)
    # Rendered images and thumbnails already made (services/render_cache.py).
    renders: RenderCache = field(default_factory=RenderCache)

    def __post_init__(self) -> None:
        self.stow = StowDriver(
            self.store,
            self.audit,
            staging=self.blobs.staging_dir(),
            spool_threshold=self.settings.spool_threshold,
            limits=Limits(self.settings.max_request_bytes, self.settings.max_parts),
        )


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def principal(request: Request) -> Principal:
    """The authenticated caller (set by the auth middleware on every protected route)."""
    who: Principal = request.state.principal
    return who


def dicomweb_base(request: Request) -> str:
    """The DICOMweb root this request came through (the account's, or a share's)."""
    base: str | None = getattr(request.state, "dicomweb_base", None)
    return base or context(request).settings.dicomweb_root
