"""``openpacs viewer install``: the OHIF bundle the server serves at ``/viewer/``.

One line of output either way; exit code 0 when the viewer is installed (now or
before), 1 when it could not be (the server then starts without it and says so).
"""

from __future__ import annotations

import argparse
import sys

from openpacs.ohif.install import InstallError
from openpacs.ohif.install import install as install_release
from openpacs.ohif.release import ReleaseError, release_for
from openpacs.settings import settings_from_env
from openpacs.web.ohif.loader import ohif_root


def install(args: argparse.Namespace) -> int:
    settings = settings_from_env()
    try:
        release = release_for(settings.ohif_version, settings.ohif_integrity)
        done = install_release(release, ohif_root(settings), source=args.source)
    except (ReleaseError, InstallError) as exc:
        print(
            f"openpacs: OHIF viewer not installed: {exc} (the server runs without it)",
            file=sys.stderr,
        )
        return 1
    state = "installed" if done.fresh else "already installed"
    print(f"OHIF viewer {release.version} {state} in {done.path}")
    return 0
