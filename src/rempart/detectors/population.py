"""Population: the same infrastructure behind many accounts, and portal-wide surges.

Real professionals read from their own site's line or a mobile network; a
campaign reuses a few rented servers for many accounts. When accounts of
several different sites read through one hosting operator within a day, each
of them gets a tighter budget and an alert names the shared infrastructure.
"""

from __future__ import annotations

from rempart.detectors.base import Finding
from rempart.events import EventKind
from rempart.guard.context import EventContext
from rempart.guard.decision import Action, ActionKind, Reason, Verdict
from rempart.guard.policy import Policy
from rempart.stores.base import StateStore

__all__ = ["SharedInfrastructure"]

_DAY = 86_400.0


class SharedInfrastructure:
    """Tightens and alerts when one hosting operator serves accounts of many sites."""

    name = "population"

    def __init__(self, store: StateStore, policy: Policy) -> None:
        self.store = store
        self.policy = policy.population

    def score_one(self, context: EventContext) -> Finding | None:
        if context.network_kind != "hosting" or context.account is None:
            return None
        key = f"infra:{context.asn}"
        sites = self.store.member_count(key, context.t)
        if not self.store.has_member(key, context.account.site, context.t):
            sites += 1
        if sites < self.policy.sites_per_hosting_network:
            return None
        return Finding(
            detector=self.name,
            tighten=self.policy.tighten,
            context=f"{context.operator} (AS{context.asn}) serves accounts of {sites} sites today",
            reason=Reason(
                detector=self.name,
                code="shared_infrastructure",
                message=(
                    f"accounts of {sites} different sites used {context.operator} "
                    f"(AS{context.asn}) within a day"
                ),
                figures={"sites": float(sites)},
            ),
            actions=(Action(kind=ActionKind.ALERT, target=f"AS{context.asn}"),),
        )

    def learn_one(self, context: EventContext, verdict: Verdict) -> None:
        if (
            context.network_kind == "hosting"
            and context.account is not None
            and context.event.kind in (EventKind.LOGIN_SUCCESS, EventKind.RECORD_VIEW)
        ):
            self.store.add_member(f"infra:{context.asn}", context.account.site, context.t, _DAY)
