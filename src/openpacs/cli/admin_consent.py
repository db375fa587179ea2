"""Which ``openpacs admin`` actions destroy or switch something off, and what they ask.

Removing an equipment, disabling a user, switching DICOMweb off for an account and
migrating with ``--delete-source`` ask first on a terminal and need ``--yes`` otherwise
(:mod:`openpacs.cli.confirm`); the others change nothing that cannot simply be set again.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from openpacs.cli.confirm import confirmed

#: The question and what is said when the answer is no (None: nothing to ask).
Question = Callable[[argparse.Namespace], tuple[str, str] | None]


def _remove_equipment(args: argparse.Namespace) -> tuple[str, str]:
    return (
        f"Remove equipment {args.equipment}? Its AE title can no longer associate.",
        "not removed",
    )


def _disable_user(args: argparse.Namespace) -> tuple[str, str]:
    return (
        f"Disable {args.email}? Their sign-ins and API tokens stop (enable-user undoes it).",
        "not disabled",
    )


def _set_dicomweb(args: argparse.Namespace) -> tuple[str, str] | None:
    if args.enabled:
        return None
    return (f"Switch DICOMweb off for the account {args.account}?", "not switched off")


def _migrate_storage(args: argparse.Namespace) -> tuple[str, str] | None:
    if not args.delete_source:
        return None
    return (
        f"Delete each file from {args.source} once it is copied to {args.destination}?",
        "not migrated",
    )


QUESTIONS: dict[str, Question] = {
    "remove_equipment": _remove_equipment,
    "disable_user": _disable_user,
    "set_dicomweb": _set_dicomweb,
    "migrate_storage": _migrate_storage,
}

#: The parser names of the actions that take ``--yes``.
ASKING_ACTIONS = tuple(name.replace("_", "-") for name in QUESTIONS)


def refusal(args: argparse.Namespace) -> str | None:
    """None to go ahead; else what to print (the answer was no). UsageError when nobody
    can be asked and ``--yes`` is missing."""
    question = QUESTIONS.get(args.action)
    asked = question(args) if question is not None else None
    if asked is None or confirmed(asked[0], yes=args.yes):
        return None
    return asked[1]
