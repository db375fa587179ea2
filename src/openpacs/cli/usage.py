"""The error of a command line that cannot be run as given (exit code 2).

Its own module, without imports, so that the consent question (``confirm.py``) and the
server-side ``admin`` commands use it without loading the HTTP client.
"""

from __future__ import annotations


class UsageError(Exception):
    """A problem with the command line itself (exit code 2)."""
