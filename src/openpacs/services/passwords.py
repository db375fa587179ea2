"""Slow salted password hashes (argon2id) for users and share links, and the strength a
user's password must have."""

from __future__ import annotations

import functools
import gzip
import secrets
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()

#: Verified against when a sign-in names no known user, so that the answer takes as long
#: as for a known one and its timing does not tell which e-mail addresses have accounts.
#: The hash of a random password nobody kept (made with ``PasswordHasher().hash``); the
#: result of the check is thrown away. A constant, not made at start: an argon2 hash is
#: 0.1-0.6 s of CPU on every core, which a restarted server must not spend before it
#: answers. ``tests/unit/test_passwords.py`` checks that its cost is the hasher's.
UNKNOWN_USER_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$1RqaVESnTxZ/WSDwhfvuSw"
    "$z1Qg854tqR0iHs1Lt5obhLKroFz2c6iD7s8535/2Jm0"
)


def hash_password(password: str) -> str:
    return str(_hasher.hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def random_password() -> str:
    return secrets.token_urlsafe(15)


#: The shortest password a user may set (NIST SP 800-63B asks for at least 8).
MIN_PASSWORD_LENGTH = 10


class WeakPassword(ValueError):
    """A password a user may not set; the message says why, in words for that user."""


def check_password_strength(password: str) -> None:
    """Refuse a user's new password that is too short or among the 10,000 commonest
    (``data/common-passwords.txt.gz``, see its README): the first guesses of anyone who
    tries logins. Raises `WeakPassword`. Random first-start passwords pass by design."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password.strip().lower() in _common_passwords():
        raise WeakPassword(
            "the password is one of the 10,000 most common passwords; choose another"
        )


@functools.cache
def _common_passwords() -> frozenset[str]:
    data = resources.files("openpacs.services").joinpath("data/common-passwords.txt.gz")
    text = gzip.decompress(data.read_bytes()).decode("utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())
