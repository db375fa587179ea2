"""The server's OHIF bundle, found once at start (one log line when there is none)."""

from __future__ import annotations

import logging
from pathlib import Path

from openpacs.ohif.bundle import Bundle, BundleError, load_bundle
from openpacs.ohif.release import ReleaseError, default_root, release_for
from openpacs.settings import Settings

log = logging.getLogger("openpacs.ohif")


def ohif_root(settings: Settings) -> Path:
    return Path(settings.ohif_root) if settings.ohif_root else default_root()


def load_viewer(settings: Settings) -> Bundle | None:
    """The installed bundle to serve, or None (said in one line: pages then offer the
    built-in viewer only)."""
    if not settings.ohif:
        return None
    try:
        release = release_for(settings.ohif_version, settings.ohif_integrity)
        bundle = load_bundle(ohif_root(settings), release)
    except (ReleaseError, BundleError) as exc:
        log.warning(
            "OHIF viewer off (%s; run `openpacs viewer install`): pages use the built-in viewer",
            exc,
        )
        return None
    log.info("OHIF viewer %s at %s/viewer/", release.version, settings.effective_public_url)
    return bundle
