"""Login attacks: password guessing and credential stuffing, per account and per address.

Failures are counted in independent buckets: per account (fast and slow),
per address, and the number of distinct accounts an address fails on. An
address over its limits is banned for a while and everything from it is
refused (the guard keeps the ban); a successful login right after a burst of
failures on the account, or from an address that failed on other accounts,
must pass step-up, and so must a login from a network new to its account
during a portal-wide stuffing wave (many addresses, few tries each). A
failure from the account's own usual network (a colleague's typo on a
pharmacy's shared line) never counts as stuffing. The wave counts every
failed login the portal saw, those from addresses already banned included: a
stuffing run through rotating addresses, each banned after a few tries, is
no smaller for it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rempart.decision import Action, ActionKind, Reason, Verdict
from rempart.detectors.base import Finding
from rempart.detectors.context import EventContext
from rempart.detectors.takeover import knows_network
from rempart.events import EventKind
from rempart.policy import Policy
from rempart.stores.base import StateStore, Window
from rempart.stores.keys import LoginKeys

__all__ = ["LoginAttacks"]

_ACCOUNT = (Window(900, 60), Window(86_400, 900))
_ADDRESS = (Window(600, 30),)
_PORTAL = (Window(600, 30), Window(86_400, 900))
_HOUR = 3_600.0


class LoginAttacks:
    """Bans addresses that guess or stuff passwords; challenges logins that follow them."""

    name = "login"

    def __init__(self, store: StateStore, policy: Policy) -> None:
        self.store = store
        self.policy = policy.login

    def score_one(self, context: EventContext) -> Finding | None:
        event = context.event
        store, policy, now = self.store, self.policy, context.t
        if event.kind is EventKind.LOGIN_FAILURE and event.account is not None:
            (by_address,) = store.counts(LoginKeys.address_failures(event.ip), now, _ADDRESS)
            tried = LoginKeys.address_accounts(event.ip)
            accounts = store.member_count(tried, now)
            if not store.has_member(tried, event.account, now):
                accounts += 1
            if by_address + 1 >= policy.address_failures_10min:
                return self._ban(context, f"{int(by_address) + 1} failed logins in 10 min")
            if accounts >= policy.address_accounts_hour:
                return self._ban(context, f"failed logins on {accounts} accounts in an hour")
            return None
        if event.kind is EventKind.LOGIN_SUCCESS and event.account is not None:
            fast, slow = store.counts(LoginKeys.account_failures(event.account), now, _ACCOUNT)
            tried = LoginKeys.address_accounts(event.ip)
            others = store.member_count(tried, now) - store.has_member(tried, event.account, now)
            warnings: list[str] = []
            if slow:
                warnings.append(f"{int(slow)} failed logins on the account in 24 h")
            if others:
                warnings.append(f"an address that failed on {others} other accounts this hour")
            if fast >= policy.account_failures_15min or slow >= policy.account_failures_day:
                return Finding.challenge(
                    self.name,
                    "login_after_failures",
                    f"login after {int(fast)} failures in 15 min ({int(slow)} in a day)",
                    {"failures_15min": fast, "failures_day": slow},
                )
            if others >= 2:
                return Finding.challenge(
                    self.name,
                    "login_from_stuffing_address",
                    f"login from an address that failed on {others} other accounts this hour",
                    {"other_accounts": float(others)},
                )
            wave, day = store.counts(LoginKeys.PORTAL_FAILURES, now, _PORTAL)
            threshold = max(policy.wave_min_10min, policy.wave_multiple * day / 144)
            if wave >= threshold:
                warnings.append("a stuffing wave")
            if warnings:
                return Finding(detector=self.name, warnings=tuple(warnings))
        return None

    def _ban(self, context: EventContext, why: str) -> Finding:
        until = datetime.fromtimestamp(context.t + self.policy.ban_minutes * 60, tz=UTC)
        return Finding(
            detector=self.name,
            verdict=Verdict.DENY,
            reason=Reason(detector=self.name, code="address_guessing", message=why),
            actions=(
                Action(kind=ActionKind.BAN_ADDRESS, target=context.event.ip, until=until),
                Action(kind=ActionKind.ALERT, target=context.event.ip),
            ),
        )

    def on_refused(self, context: EventContext) -> None:
        """A failed login refused on a ban still swells the portal-wide wave (one counter)."""
        event = context.event
        if event.kind is EventKind.LOGIN_FAILURE and event.account is not None:
            self.store.add_counts(LoginKeys.PORTAL_FAILURES, context.t, _PORTAL)

    def learn_one(self, context: EventContext, verdict: Verdict) -> None:
        event = context.event
        store, now = self.store, context.t
        if event.kind is EventKind.LOGIN_FAILURE and event.account is not None:
            store.add_counts(LoginKeys.account_failures(event.account), now, _ACCOUNT)
            store.add_counts(LoginKeys.address_failures(event.ip), now, _ADDRESS)
            store.add_counts(LoginKeys.PORTAL_FAILURES, now, _PORTAL)
            # A typo on the account's own usual line is not stuffing (a pharmacy shares one).
            if not knows_network(store, event.account, context.prefix, context.identity_asn, now):
                store.add_member(LoginKeys.address_accounts(event.ip), event.account, now, _HOUR)
