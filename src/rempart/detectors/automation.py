"""Automation: reading at a robot's pace, or while the site is closed.

Humans read a patient, talk, read another: minutes apart, with pauses. A
script reads every second or two for hours. Thirty reads in ten minutes, or
most of the last gaps under a few seconds, tighten the budget hard; a read
outside the site's opening hours (in its own time zone) tightens it too. So
does a read whose user agent is a script's rather than a browser's
(`rempart.useragent.is_scripted`): people use browsers; a naive thief's
script says what it is from its first read, before any pace shows.
"""

from __future__ import annotations

from rempart.decision import Verdict
from rempart.detectors.base import Finding
from rempart.detectors.context import EventContext
from rempart.events import EventKind
from rempart.policy import Policy
from rempart.stores.base import StateStore, Window
from rempart.stores.keys import AutomationKeys
from rempart.useragent import browser_key, is_scripted

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
        (recent,) = store.counts(AutomationKeys.reads(event.account), now, _TEN_MINUTES)
        pace = store.get(AutomationKeys.pace(event.account), now)
        gaps = pace[1] if pace else []
        short = sum(1 for gap in gaps if gap < policy.short_gap_s)
        if recent + 1 >= policy.reads_10min:
            tighten *= policy.robot
            signs.append(f"{int(recent) + 1} look-ups in 10 min")
        elif len(gaps) >= policy.gaps and short >= policy.short_gap_share * len(gaps):
            tighten *= policy.robot
            signs.append(f"{short} of the last {len(gaps)} gaps under {policy.short_gap_s:g} s")
        if is_scripted(event.user_agent):
            tighten *= policy.scripted_client
            product = browser_key(event.user_agent).split("/", 1)[0] or "no user agent"
            signs.append(f"scripted client ({product})")
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
        store.add_counts(AutomationKeys.reads(event.account), now, _TEN_MINUTES)
        # One value per account: the last read's time and the latest gaps between reads.
        pace = store.get(AutomationKeys.pace(event.account), now)
        gaps = [] if pace is None else [*pace[1][-(self.policy.gaps - 1) :], now - pace[0]]
        store.put(AutomationKeys.pace(event.account), [now, gaps], now, 3_600)
