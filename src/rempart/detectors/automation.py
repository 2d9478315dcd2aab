"""Automation: reading at a robot's pace, or while the site is closed.

Humans read a patient, talk, read another: minutes apart, with pauses. A
script reads every second or two for hours. Thirty reads in ten minutes, or
most of the last gaps under a few seconds, tighten the budget hard; a read
outside the site's opening hours (in its own time zone) tightens it too.
"""

from __future__ import annotations

from rempart.detectors.base import Finding
from rempart.events import EventKind
from rempart.guard.context import EventContext
from rempart.guard.decision import Verdict
from rempart.guard.policy import Policy
from rempart.stores.base import StateStore, Window

__all__ = ["Automation"]

_TEN_MINUTES = (Window(600, 30),)


class Automation:
    """Tightens the budget for robot-like pacing and reads outside opening hours."""

    name = "automation"

    def __init__(self, store: StateStore, policy: Policy) -> None:
        self.store = store
        self.policy = policy.automation

    def score_one(self, context: EventContext) -> Finding | None:
        event = context.event
        if event.kind is not EventKind.RECORD_VIEW or event.account is None:
            return None
        policy, store, now = self.policy, self.store, context.t
        signs: list[str] = []
        tighten = 1.0
        (recent,) = store.counts(f"r10:{event.account}", now, _TEN_MINUTES)
        gaps = store.get(f"gaps:{event.account}", now) or []
        short = sum(1 for gap in gaps if gap < policy.short_gap_s)
        if recent + 1 >= policy.reads_10min:
            tighten *= policy.robot
            signs.append(f"{int(recent) + 1} look-ups in 10 min")
        elif len(gaps) >= policy.gaps and short >= policy.short_gap_share * len(gaps):
            tighten *= policy.robot
            signs.append(f"{short} of the last {len(gaps)} gaps under {policy.short_gap_s:g} s")
        if context.site is not None and not context.site_open:
            tighten *= policy.outside_hours
            signs.append(
                f"site closed at {context.minute // 60:02d}:{context.minute % 60:02d} local"
            )
        if signs:
            return Finding(detector=self.name, tighten=tighten, context=", ".join(signs))
        return None

    def learn_one(self, context: EventContext, verdict: Verdict) -> None:
        event = context.event
        if event.kind is not EventKind.RECORD_VIEW or event.account is None:
            return
        store, now = self.store, context.t
        store.add_counts(f"r10:{event.account}", now, _TEN_MINUTES)
        last = store.get(f"last:{event.account}", now)
        if last is not None:
            gaps = store.get(f"gaps:{event.account}", now) or []
            gaps = [*gaps[-(self.policy.gaps - 1) :], now - last]
            store.put(f"gaps:{event.account}", gaps, now, 3_600)
        store.put(f"last:{event.account}", now, now, 3_600)
