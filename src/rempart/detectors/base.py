"""What every detector is: a small object that scores an event and learns from it.

A detector keeps its state in the guard's `StateStore` (never in a global),
takes the event time from the context (never a clock), and does no other I/O.
`score_one` is a query: it never changes state. `learn_one` updates state
once the guard has decided, and is told the verdict, so that a baseline never
learns from traffic the guard challenged or refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rempart.guard.context import EventContext
from rempart.guard.decision import Action, Reason, Verdict

__all__ = ["Detector", "Finding"]


@dataclass(frozen=True, slots=True)
class Finding:
    """A detector's answer: the verdict it asks for, a budget tightening, actions, a reason.

    ``tighten`` (0 < t <= 1) multiplies the account's unexplained-read budget
    for this event; ``context`` says why in a few words for the budget's reason.
    """

    detector: str
    verdict: Verdict = Verdict.ALLOW
    reason: Reason | None = None
    actions: tuple[Action, ...] = ()
    tighten: float = 1.0
    context: str | None = None

    @classmethod
    def challenge(
        cls, detector: str, code: str, message: str, figures: dict[str, float]
    ) -> Finding:
        """A step-up request with its reason and the figures behind it."""
        return cls(
            detector=detector,
            verdict=Verdict.CHALLENGE,
            reason=Reason(detector=detector, code=code, message=message, figures=figures),
        )


class Detector(Protocol):
    """The detector contract (checked over every detector by ``tests/detectors``)."""

    name: str

    def score_one(self, context: EventContext) -> Finding | None:
        """What this detector makes of the event; None when it has nothing to say."""
        ...

    def learn_one(self, context: EventContext, verdict: Verdict) -> None:
        """Update state after the guard decided ``verdict`` for the event."""
        ...
