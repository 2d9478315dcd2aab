"""``rempart replay``: one decision per event, from any event file and its evidence.

Events and evidence are merged by time: evidence at or before an event's time
is observed first, as the online guard would have received it. Without
ground truth nobody answers a challenge, so a challenge stays a challenge.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rempart.events import Event
from rempart.evidence import CareEvidence
from rempart.guard.decision import Decision
from rempart.replay.baselines import Defence

__all__ = ["replay"]


def replay(
    events: Iterable[Event], evidence: Iterable[CareEvidence], defence: Defence
) -> Iterator[Decision]:
    """Decide every event in order, observing the evidence that precedes it."""
    pending = iter(evidence)
    upcoming = next(pending, None)
    for event in events:
        while upcoming is not None and upcoming.time <= event.time:
            defence.observe(upcoming)
            upcoming = next(pending, None)
        yield defence.decide(event)
