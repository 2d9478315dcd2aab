"""Population: the same infrastructure behind many accounts, and portal-wide surges.

Real professionals read from their own site's line or a mobile network; a
campaign reuses a few rented servers for many accounts. When accounts of
several different sites read through one hosting operator within a day, each
of them gets a tighter budget and an alert names the shared infrastructure.
The same holds, with no network labels at all, for one /24 (or /48) through
which accounts of several sites logged in within a day, each from someone
else's device (a network and a browser both new to it): a campaign's servers
or proxies, whatever their kind (ranges the table labels as a VPN's exits or
a mobile carrier's NAT, shared by design, apart). Professionals whose phones
land on the same unlabelled carrier NAT bring their own browsers, and do not
add up.
When the whole portal's unexplained reads in an hour rise well above that
hour's usual level (many accounts each reading a little: a campaign spread
under every account's budget), an alert says so, and for the next hour the
accounts feeding the surge — reading through a session opened from someone
else's device, or hopping across new networks, that no step-up vouched for
(`EventContext.stranger`) — get a much tighter budget: the campaign's
accounts, not the professionals at their usual desk, nor one abroad or
behind a stale network label.
"""

from __future__ import annotations

from rempart.decision import Action, ActionKind, Reason, Verdict
from rempart.detectors.base import Finding
from rempart.detectors.context import EventContext
from rempart.detectors.takeover import knows_browser, knows_network
from rempart.events import EventKind
from rempart.policy import Policy
from rempart.stores.base import StateStore, Window
from rempart.stores.keys import PopulationKeys

__all__ = ["SharedInfrastructure"]

_DAY = 86_400.0
# Ranges many legitimate users share by design, when the network table says so: a VPN's
# exits and a mobile carrier's NAT. Unlabelled, they count like any other prefix.
_SHARED_BY_DESIGN = frozenset({"vpn", "mobile"})
_HOUR = (Window(3_600, 60),)
_WEEK = (Window(7 * 86_400, 3_600),)


class SharedInfrastructure:
    """Tightens and alerts when one hosting operator serves accounts of many sites."""

    name = "population"

    def __init__(self, store: StateStore, policy: Policy) -> None:
        self.store = store
        self.policy = policy.population

    def score_one(self, context: EventContext) -> Finding | None:
        if context.is_read and not context.explained:
            surge = self._surge(context)
            if surge is not None:
                return surge
            if context.stranger and self.store.get(PopulationKeys.SURGE_ALERTED, context.t):
                return self._feeding(context)
        if context.account is None:
            return None
        return self._shared_infrastructure(context)

    def _feeding(self, context: EventContext) -> Finding:
        """An account feeding a surge: tighter still, with what it shares with the others."""
        shared = self._shared_infrastructure(context)
        why = "portal-wide surge of unexplained reads"
        if shared is None:
            return Finding(detector=self.name, tighten=self.policy.surge_tighten, context=why)
        return Finding(
            detector=self.name,
            tighten=shared.tighten * self.policy.surge_tighten,
            context=f"{shared.context}, {why}",
            reason=shared.reason,
            actions=shared.actions,
        )

    def _shared_infrastructure(self, context: EventContext) -> Finding | None:
        """A shared new prefix, or a hosting operator serving accounts of several sites."""
        shared_prefix = self._shared_prefix(context)
        if shared_prefix is not None:
            return shared_prefix
        if context.network_kind != "hosting" or context.account is None:
            return None
        key = PopulationKeys.hosting_sites(context.asn)
        sites = self.store.member_count(key, context.t)
        if not self.store.has_member(key, context.account.site, context.t):
            sites += 1
        if sites < self.policy.sites_per_hosting_network:
            return None
        return self._shared(
            sites,
            "shared_infrastructure",
            f"{context.operator} (AS{context.asn}) serves accounts of {sites} sites today",
            f"accounts of {sites} different sites used {context.operator} "
            f"(AS{context.asn}) within a day",
            f"AS{context.asn}",
        )

    def _shared(self, sites: int, code: str, why: str, message: str, target: str) -> Finding:
        """Tighten the budget and alert on ``target``, infrastructure shared by ``sites``."""
        return Finding(
            detector=self.name,
            tighten=self.policy.tighten,
            context=why,
            reason=Reason(
                detector=self.name,
                code=code,
                message=message,
                figures={"sites": float(sites)},
            ),
            actions=(Action(kind=ActionKind.ALERT, target=target),),
        )

    def _someone_elses_device(self, context: EventContext) -> bool:
        """Whether this login comes from a network and a browser both new to the account."""
        account, t = context.event.account, context.t
        return (
            account is not None
            and not knows_network(self.store, account, context.prefix, context.identity_asn, t)
            and not knows_browser(self.store, account, context.event.user_agent, t)
        )

    def _shared_prefix(self, context: EventContext) -> Finding | None:
        """Accounts of several sites came through this prefix, each from someone else's device
        (a network and a browser new to it), today."""
        site = context.account.site if context.account is not None else None
        if site is None or context.network_kind in _SHARED_BY_DESIGN:
            return None
        key = PopulationKeys.new_prefix_sites(context.prefix)
        # One look-up for most events: a site not in the set counts only on a login that is new.
        if self.store.has_member(key, site, context.t):
            sites = self.store.member_count(key, context.t)
        elif context.kind is EventKind.LOGIN_SUCCESS and self._someone_elses_device(context):
            sites = self.store.member_count(key, context.t) + 1
        else:
            return None
        if sites < self.policy.sites_per_new_prefix:
            return None
        return self._shared(
            sites,
            "shared_new_network",
            f"{context.prefix} new to accounts of {sites} sites today",
            f"accounts of {sites} different sites came through {context.prefix} "
            f"({context.operator}), a network new to each, within a day",
            context.prefix,
        )

    def _surge(self, context: EventContext) -> Finding | None:
        """The surge alert if this read, not yet counted, crosses the threshold."""
        (hour,) = self.store.counts(PopulationKeys.PORTAL_UNEXPLAINED, context.t, _HOUR)
        hour += 1
        if hour < self.policy.surge_min_hour:
            return None
        (usual,) = self.store.counts(
            PopulationKeys.portal_unexplained_at(_hour_of_day(context.t)), context.t, _WEEK
        )
        threshold = max(self.policy.surge_min_hour, self.policy.surge_multiple * usual / 7)
        if hour < threshold or self.store.get(PopulationKeys.SURGE_ALERTED, context.t) is not None:
            return None
        return Finding(
            detector=self.name,
            reason=Reason(
                detector=self.name,
                code="unexplained_surge",
                message=(
                    f"{int(hour)} unexplained reads portal-wide in the last hour; "
                    f"threshold {threshold:.0f} ({self.policy.surge_multiple:g}x this hour's "
                    "daily average over the past week); budgets of the accounts feeding it "
                    "tightened for an hour"
                ),
                figures={"unexplained_hour": hour, "threshold": threshold},
            ),
            actions=(Action(kind=ActionKind.ALERT, target="portal"),),
            tighten=self.policy.surge_tighten if context.stranger else 1.0,
            context="portal-wide surge of unexplained reads",
        )

    def learn_one(self, context: EventContext, verdict: Verdict) -> None:
        if context.is_read and not context.explained and verdict is not Verdict.DENY:
            # Read before writing: the guard applies a decision's updates together, at the end.
            if self._surge(context) is not None:
                self.store.put(PopulationKeys.SURGE_ALERTED, context.t, context.t, 3_600)
            self.store.add_counts(PopulationKeys.PORTAL_UNEXPLAINED, context.t, _HOUR)
            self.store.add_counts(
                PopulationKeys.portal_unexplained_at(_hour_of_day(context.t)), context.t, _WEEK
            )
        if (
            context.account is not None
            and context.event.kind is EventKind.LOGIN_SUCCESS
            and context.network_kind not in _SHARED_BY_DESIGN
            and self._someone_elses_device(context)
        ):
            self.store.add_member(
                PopulationKeys.new_prefix_sites(context.prefix),
                context.account.site,
                context.t,
                _DAY,
            )
        if (
            context.network_kind == "hosting"
            and context.account is not None
            and context.event.kind in (EventKind.LOGIN_SUCCESS, EventKind.RECORD_VIEW)
        ):
            self.store.add_member(
                PopulationKeys.hosting_sites(context.asn), context.account.site, context.t, _DAY
            )


def _hour_of_day(t: float) -> int:
    """The UTC hour of the day of event time ``t``."""
    return int(t // 3_600) % 24
