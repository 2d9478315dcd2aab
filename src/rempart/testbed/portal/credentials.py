"""The portal's credentials: argon2id password hashes, TOTP secrets, testbed passwords.

Testbed passwords and TOTP secrets are derived from the portal's secret so
that the simulated users and the attack robot can log in; they are never
logged. Hashes are provisioned lazily, on an account's first use, so that a
world of thousands of accounts starts at once; every check still goes
through argon2.

>>> from argon2 import PasswordHasher
>>> from rempart.secret import Secret
>>> secret = Secret(b"portal-secret-for-doctest")
>>> fast = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
>>> store = Credentials(["A000001"], secret, fast)
>>> store.verify("A000001", testbed_password(secret, "A000001"))
True
>>> store.verify("A000001", "guess"), store.verify("nobody", "guess")
(False, False)

A TOTP code passes once: the time step of each accepted code is remembered
per account (RFC 6238, section 5.2), so the same code, or an earlier one, is
refused afterwards, on any session.

>>> from datetime import UTC, datetime
>>> at = datetime(2022, 3, 8, 9, 0, tzinfo=UTC)
>>> code = store.totp("A000001").at(at)
>>> store.verify_totp("A000001", code, at), store.verify_totp("A000001", code, at)
(True, False)
"""

from __future__ import annotations

import base64
import hmac
import threading
from collections.abc import Iterable
from datetime import datetime
from typing import Final

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from rempart.secret import Secret

__all__ = ["Credentials", "account_email", "testbed_password", "testbed_totp_secret"]

_MAIL_DOMAIN: Final = "pro.rempart.test"


def _derive(secret: Secret, purpose: str, account: str) -> bytes:
    return hmac.digest(secret.reveal(), f"{purpose}:{account}".encode(), "sha256")


def testbed_password(secret: Secret, account: str) -> str:
    """The account's initial testbed password (what its owner, and a thief, would type)."""
    return base64.urlsafe_b64encode(_derive(secret, "password", account)[:15]).decode("ascii")


def testbed_totp_secret(secret: Secret, account: str) -> str:
    """The account's TOTP secret (base32), the second factor a thief does not hold."""
    return base64.b32encode(_derive(secret, "totp", account)[:20]).decode("ascii")


def account_email(account: str) -> str:
    """The professional's e-mail address, where password-reset links go."""
    return f"{account.lower()}@{_MAIL_DOMAIN}"


class Credentials:
    """Password hashes and TOTP secrets of the portal's accounts."""

    def __init__(self, accounts: Iterable[str], secret: Secret, hasher: PasswordHasher) -> None:
        self._accounts = frozenset(accounts)
        self._secret = secret
        self._hasher = hasher
        self._hashes: dict[str, str] = {}
        self._dummy = hasher.hash("no such account")
        self._last_step: dict[str, int] = {}  # account -> time step of its last accepted code
        self._steps_lock = threading.Lock()

    def __contains__(self, account: object) -> bool:
        return account in self._accounts

    def _hash(self, account: str) -> str:
        stored = self._hashes.get(account)
        if stored is None:
            stored = self._hasher.hash(testbed_password(self._secret, account))
            self._hashes[account] = stored
        return stored

    def verify(self, account: str, password: str) -> bool:
        """Whether ``password`` is the account's; unknown accounts cost the same argon2 check."""
        known = account in self._accounts
        try:
            matches = self._hasher.verify(self._hash(account) if known else self._dummy, password)
        except VerificationError:
            return False
        return known and matches

    def set_password(self, account: str, password: str) -> None:
        """Replace the account's password (after a reset)."""
        self._hashes[account] = self._hasher.hash(password)

    def totp(self, account: str) -> pyotp.TOTP:
        """The account's TOTP generator."""
        return pyotp.TOTP(testbed_totp_secret(self._secret, account))

    def verify_totp(self, account: str, code: str, at: datetime) -> bool:
        """Whether ``code`` is the account's TOTP at ``at``, one step of drift allowed, never used.

        A code passes only for a time step later than the account's last
        accepted one: a code seen once (on this session or another) is spent.
        """
        if account not in self._accounts:
            return False
        totp = self.totp(account)
        current = totp.timecode(at)
        matched: int | None = None
        for step in (current - 1, current, current + 1):  # every candidate, in constant time
            if hmac.compare_digest(totp.generate_otp(step).encode(), code.encode()):
                matched = step
        if matched is None:
            return False
        with self._steps_lock:
            if matched <= self._last_step.get(account, -1):
                return False
            self._last_step[account] = matched
        return True
