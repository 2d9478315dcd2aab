"""Takeover context: the signs that someone else now holds the account.

A network (prefix and autonomous system) the account never used, a rented
server or VPN, a foreign country, a new browser, a password reset or e-mail or
MFA change in the last day: each tightens the account's budget. A login from
a network *and* a browser both new to the account (someone else's device)
tightens the reads of its session too, until that session passes step-up. A
session that reads without ever having logged in (a stolen session cookie),
or that moves to another operator mid-session, is challenged outright.

A browser is its family, system and device class
(`rempart.useragent.browser_key`), not its exact user agent: the owner's
browser updating to a new version is not a new browser.

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
from rempart.useragent import browser_key

__all__ = ["TakeoverContext", "knows_network"]

_CHANGES = frozenset({EventKind.PASSWORD_RESET, EventKind.EMAIL_CHANGE, EventKind.MFA_CHANGE})
_LOOKUPS = frozenset({EventKind.RECORD_VIEW, EventKind.SEARCH})
_YEAR = 366 * 86_400.0
_SESSION_TTL = 12 * 3_600.0
_DAY = 86_400.0


def knows_network(store: StateStore, account: str, prefix: str, asn: int, now: float) -> bool:
    """Whether the account has used this /24 (or /48) or this autonomous system before."""
    return store.has_member(TakeoverKeys.networks(account), prefix, now) or (
        asn != 0 and store.has_member(TakeoverKeys.autonomous_systems(account), str(asn), now)
    )


def knows_browser(store: StateStore, account: str, user_agent: str, now: float) -> bool:
    """Whether the account has used this browser (family, system, device) before; an empty
    user agent is no known browser."""
    return bool(user_agent) and store.has_member(
        TakeoverKeys.browsers(account), browser_key(user_agent), now
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
        stranger = False
        session_id = event.session if event.kind in _LOOKUPS else None
        session = store.get(TakeoverKeys.session(session_id), now) if session_id else None
        # A session opened from someone else's device carries that to its reads (below), in
        # place of the per-event new network and browser its login was not taught.
        carried = session is not None and session[3] < 1.0 and context.vouched_since is None
        if not carried and self._established(account, now):
            if not knows_network(store, account, context.prefix, context.identity_asn, now):
                tighten *= policy.new_network
                signs.append(f"new network {context.prefix} ({context.operator})")
            if event.user_agent and not store.has_member(
                TakeoverKeys.browsers(account), browser_key(event.user_agent), now
            ):
                tighten *= policy.new_device
                signs.append("new browser")
        changed = store.get(TakeoverKeys.credential_change(account), now)
        if changed is not None:
            minutes = (now - changed[0]) / 60
            tighten *= policy.credential_change
            signs.append(f"{changed[1].replace('_', ' ')} {minutes:.0f} min earlier")

        if session_id:
            if session is None and policy.unknown_session != "allow":
                return Finding(
                    detector=self.name,
                    verdict=Verdict(policy.unknown_session),
                    reason=Reason(
                        detector=self.name,
                        code="unknown_session",
                        message=(
                            f"session {session_id[:8]}… reads patients but never logged in "
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
                            f"session {session_id[:8]}… opened by {session[0]} used by {account}"
                        ),
                    ),
                )
            if (
                session is not None
                and session[5] >= policy.new_networks_day
                and context.vouched_since is None
            ):
                # Hopping from one new network to the next (a proxy pool's exits) holds for
                # the sessions opened that way, until one passes step-up.
                tighten *= policy.network_hopping
                signs.append(f"new networks in {session[5]} address blocks that day")
                stranger = True
            if carried:
                # What the login revealed (a network and browser new to the account) holds for
                # the session's reads until the session passes step-up.
                assert session is not None
                tighten *= float(session[3])
                signs.append("session opened from a new network and a new browser")
                stranger = True
                if (
                    session[4]
                    and context.is_read
                    and not context.explained
                    and policy.suspect_session != "allow"
                ):
                    return Finding(
                        detector=self.name,
                        verdict=Verdict(policy.suspect_session),
                        reason=Reason(
                            detector=self.name,
                            code="suspect_session",
                            message=(
                                f"session {session_id[:8]}… opened from a network and a "
                                f"browser both new to the account, after {session[4]}: its "
                                "unexplained reads need step-up"
                            ),
                        ),
                        tighten=tighten,
                        context=", ".join(signs),
                        stranger=True,
                    )
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
            return Finding(
                detector=self.name, tighten=tighten, context=", ".join(signs), stranger=stranger
            )
        return None

    def _hops(self, account: str, context: EventContext) -> int:
        """Address blocks (/16 or /32) of networks new to the account that it logged in from
        today, this one included.

        A proxy pool's exits are spread over every carrier's blocks all over the country;
        an owner on the move stays on a few blocks of one carrier. The block, not the AS,
        so that it holds with no network data, and a national carrier is not one block.
        """
        key = TakeoverKeys.new_networks(account)
        hops = self.store.member_count(key, context.t)
        if not self.store.has_member(key, _block(context), context.t):
            hops += 1
        return hops

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
            novelty = self._novelty(context, account)
            hops = 0
            if self._established(account, now) and not knows_network(
                store, account, context.prefix, context.identity_asn, now
            ):
                hops = self._hops(account, context)
                key = TakeoverKeys.new_networks(account)
                store.add_member(key, _block(context), now, _DAY)
            if event.session:
                suspect = self._suspect(context, account) if novelty < 1.0 else ""
                store.put(
                    TakeoverKeys.session(event.session),
                    [account, context.prefix, context.asn, novelty, suspect, hops],
                    now,
                    _SESSION_TTL,
                )
            if (novelty == 1.0 and hops < self.policy.new_networks_day) or not event.session:
                # A session keeps its login's network (or is challenged when it moves).
                self.learn_network(context)
            # Someone else's device, or the networks of an account hopping from one new network
            # to the next, are learned only once a session proves to be the owner's: a step-up
            # passed, or a read of the practice's own patient (below).
        elif context.explained and context.is_read and event.session:
            session = store.get(TakeoverKeys.session(event.session), now)
            if (
                session is not None
                and (session[3] < 1.0 or session[5] >= self.policy.new_networks_day)
                and session[0] == account
            ):
                store.put(
                    TakeoverKeys.session(event.session),
                    [account, session[1], session[2], 1.0, "", 0],
                    now,
                    _SESSION_TTL,
                )
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
            or knows_network(store, account, context.prefix, context.identity_asn, now)
            or knows_browser(store, account, user_agent, now)
        ):
            return 1.0
        return policy.new_network * policy.new_device

    def _suspect(self, context: EventContext, account: str) -> str:
        """Why a login from someone else's device looks like a thief's: what came just before
        it (a credential change, failed logins, a stuffing address or wave), else ``""``.

        Alone, a new device is a locum's or a new laptop's; after a reset by e-mail or a run
        of failures it is what every takeover in the testbed and in 2022 looked like.
        """
        changed = self.store.get(TakeoverKeys.credential_change(account), context.t)
        signs = list(context.login_warnings)
        if changed is not None:
            signs.insert(0, f"a {changed[1].replace('_', ' ')}")
        return ", ".join(signs)

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
        if context.identity_asn:
            store.add_member(
                TakeoverKeys.autonomous_systems(account), str(context.identity_asn), now, _YEAR
            )
        if context.event.user_agent:
            browser = browser_key(context.event.user_agent)
            store.add_member(TakeoverKeys.browsers(account), browser, now, _YEAR)


def _block(context: EventContext) -> str:
    """The address's /16 (IPv4) or /32 (IPv6): a carrier's regional block, one allocation."""
    ip = context.event.ip
    if ":" in ip:
        return ":".join(ip.split(":")[:2]) + "::/32"
    return ".".join(ip.split(".")[:2]) + ".0.0/16"
