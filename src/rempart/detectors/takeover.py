"""Takeover context: the signs that someone else now holds the account.

A network (prefix and autonomous system) the account never used, a rented
server or VPN, a foreign country, a new browser, a password reset or e-mail or
MFA change in the last day: each tightens the account's budget. A login from
a network *and* a browser both new to the account (someone else's device)
tightens the reads of its session too, until that session passes step-up. A
session that reads without ever having logged in (a stolen session cookie),
or that moves to another operator mid-session, is challenged outright.

Networks and browsers are learned only from events the guard allowed, and
only once the account is established (active on a few distinct days): a
brand-new account has no "usual" network to depart from.
"""

from __future__ import annotations

from rempart.decision import Reason, Verdict
from rempart.detectors.base import Finding
from rempart.detectors.context import EventContext
from rempart.events import EventKind
from rempart.networks import UNKNOWN_COUNTRY
from rempart.policy import Policy
from rempart.stores.base import StateStore
from rempart.stores.keys import TakeoverKeys

__all__ = ["TakeoverContext", "knows_network"]

_CHANGES = frozenset({EventKind.PASSWORD_RESET, EventKind.EMAIL_CHANGE, EventKind.MFA_CHANGE})
_YEAR = 366 * 86_400.0
_SESSION_TTL = 12 * 3_600.0
_DAY = 86_400.0


def knows_network(store: StateStore, account: str, prefix: str, asn: int, now: float) -> bool:
    """Whether the account has used this /24 (or /48) or this autonomous system before."""
    return store.has_member(TakeoverKeys.networks(account), prefix, now) or (
        asn != 0 and store.has_member(TakeoverKeys.autonomous_systems(account), str(asn), now)
    )


class TakeoverContext:
    """Tightens the budget on takeover signs; challenges unknown or moved sessions."""

    name = "takeover"

    def __init__(self, store: StateStore, policy: Policy) -> None:
        self.store = store
        self.policy = policy.takeover
        self._home = frozenset(policy.takeover.home_countries)

    def _established(self, account: str, now: float) -> bool:
        return self.store.get(TakeoverKeys.established(account), now) is not None

    def score_one(self, context: EventContext) -> Finding | None:
        event = context.event
        account = event.account
        if account is None:
            return None
        store, policy, now = self.store, self.policy, context.t
        signs: list[str] = []
        tighten = 1.0
        kind = context.network_kind
        if kind == "hosting":
            tighten *= policy.hosting_network
            signs.append(f"rented server ({context.operator})")
        elif kind == "vpn":
            tighten *= policy.vpn_network
            signs.append(f"VPN exit ({context.operator})")
        elif kind == "proxy":
            tighten *= policy.proxy_network
            signs.append(f"proxy ({context.operator})")
        elif kind == "tor":
            tighten *= policy.tor_network
            signs.append("Tor exit")
        if context.country != UNKNOWN_COUNTRY and context.country not in self._home:
            tighten *= policy.foreign_network
            signs.append(f"connection from {context.country}")
        if self._established(account, now):
            if not knows_network(store, account, context.prefix, context.asn, now):
                tighten *= policy.new_network
                signs.append(f"new network {context.prefix} ({context.operator})")
            if event.user_agent and not store.has_member(
                TakeoverKeys.browsers(account), event.user_agent, now
            ):
                tighten *= policy.new_device
                signs.append("new browser")
        changed = store.get(TakeoverKeys.credential_change(account), now)
        if changed is not None:
            minutes = (now - changed[0]) / 60
            tighten *= policy.credential_change
            signs.append(f"{changed[1].replace('_', ' ')} {minutes:.0f} min earlier")

        if event.kind in (EventKind.RECORD_VIEW, EventKind.SEARCH) and event.session:
            session = store.get(TakeoverKeys.session(event.session), now)
            if session is None and policy.unknown_session != "allow":
                return Finding(
                    detector=self.name,
                    verdict=Verdict(policy.unknown_session),
                    reason=Reason(
                        detector=self.name,
                        code="unknown_session",
                        message=(
                            f"session {event.session[:8]}… reads patients but never logged in "
                            f"(from {context.prefix}, {context.operator})"
                        ),
                    ),
                    tighten=tighten,
                    context=", ".join(signs) or None,
                )
            if session is not None and session[0] != account:
                return Finding(
                    detector=self.name,
                    verdict=Verdict.DENY,
                    reason=Reason(
                        detector=self.name,
                        code="session_account_mismatch",
                        message=(
                            f"session {event.session[:8]}… opened by {session[0]} used by {account}"
                        ),
                    ),
                )
            if session is not None and session[3] < 1.0 and context.vouched_since is None:
                # What the login revealed (a network and browser new to the account) holds for
                # the session's reads, although the login taught the guard both, until the
                # session passes step-up.
                tighten *= float(session[3])
                signs.append("session opened from a new network and a new browser")
            if (
                session is not None
                and session[1] != context.prefix
                and session[2] != context.asn
                and policy.session_moved != "allow"
            ):
                return Finding(
                    detector=self.name,
                    verdict=Verdict(policy.session_moved),
                    reason=Reason(
                        detector=self.name,
                        code="session_moved",
                        message=(
                            f"session moved from {session[1]} (AS{session[2]}) to "
                            f"{context.prefix} ({context.operator}, AS{context.asn}) mid-session"
                        ),
                    ),
                    tighten=tighten,
                )
        if tighten < 1.0:
            return Finding(detector=self.name, tighten=tighten, context=", ".join(signs))
        return None

    def learn_one(self, context: EventContext, verdict: Verdict) -> None:
        event = context.event
        account = event.account
        if account is None:
            return
        store, now = self.store, context.t
        if event.kind in _CHANGES:
            hours = self.policy.credential_change_hours
            store.put(
                TakeoverKeys.credential_change(account), [now, event.kind.value], now, hours * 3_600
            )
            return
        if verdict is not Verdict.ALLOW:
            return
        if event.kind is EventKind.LOGIN_SUCCESS:
            if event.session:
                store.put(
                    TakeoverKeys.session(event.session),
                    [account, context.prefix, context.asn, self._novelty(context, account)],
                    now,
                    _SESSION_TTL,
                )
            # A session keeps its login's network (or is challenged when it moves).
            self.learn_network(context)

    def _novelty(self, context: EventContext, account: str) -> float:
        """The tightening a login carries to its session: below 1 only from a network *and* a
        browser both new to the account.

        Both together are someone else's device; either alone is the owner
        travelling, behind a rotating VPN exit, or on a new laptop at the usual
        desk, and is not carried to the session's reads.
        """
        store, policy, now = self.store, self.policy, context.t
        user_agent = context.event.user_agent
        if (
            not user_agent
            or not self._established(account, now)
            or knows_network(store, account, context.prefix, context.asn, now)
            or store.has_member(TakeoverKeys.browsers(account), user_agent, now)
        ):
            return 1.0
        return policy.new_network * policy.new_device

    def on_step_up(self, context: EventContext) -> None:
        """The owner passed step-up: the event's network and browser are the account's own.

        On a login, its session is also remembered, as for an allowed login.
        """
        self.learn_network(context)
        if context.event.kind is EventKind.LOGIN_SUCCESS:
            self.learn_one(context, Verdict.ALLOW)

    def learn_network(self, context: EventContext) -> None:
        """Remember the event's network and browser as the account's own."""
        account = context.event.account
        if account is None:
            return
        store, now = self.store, context.t
        # Read before writing: the guard applies a decision's updates together, at the end.
        today = str(int(now // _DAY))
        active_days = TakeoverKeys.active_days(account)
        if not store.has_member(active_days, today, now):
            days = store.member_count(active_days, now) + 1
            if days >= self.policy.established_days:
                store.put(TakeoverKeys.established(account), True, now, 30 * _DAY)
        store.add_member(active_days, today, now, 30 * _DAY)
        store.add_member(TakeoverKeys.networks(account), context.prefix, now, _YEAR)
        if context.asn:
            store.add_member(TakeoverKeys.autonomous_systems(account), str(context.asn), now, _YEAR)
        if context.event.user_agent:
            store.add_member(TakeoverKeys.browsers(account), context.event.user_agent, now, _YEAR)
