"""What every detector is: a small object that scores an event and learns from it.

A detector keeps its state in the guard's `StateStore` (never in a global),
takes the event time from the context (never a clock), and does no other I/O.
`score_one` is a query: it never changes state. `learn_one` updates state
once the guard has decided, and is told the verdict, so that a baseline never
learns from traffic the guard challenged or refused.

A detector may also act when the owner passes step-up (`StepUpHook`): the
guard calls ``on_step_up`` on every detector that has it, whatever its class,
so the guard never needs to know which detector keeps the budget or the
account's usual networks. In the same way, a detector may hear of the events
the guard refused on a standing lock or ban before any detector scored them
(`RefusalHook`): a stuffing wave is as large as the failed logins the portal
saw, banned senders' included.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from rempart.decision import Action, Reason, Verdict
from rempart.detectors.context import EventContext

__all__ = ["Detector", "Finding", "RefusalHook", "StepUpHook"]


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
    stranger: bool = False
    """The event comes through a session opened from someone else's device, or from an
    account hopping across new networks, not yet vouched for by a step-up."""
    warnings: tuple[str, ...] = ()
    """What came before a successful login that a thief does (failed logins, a stuffing
    address or wave), for the guard to put in `EventContext.login_warnings`."""

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


@runtime_checkable
class StepUpHook(Protocol):
    """What a detector that learns from a passed step-up has, besides `Detector`'s methods.

    The owner proved they hold the account on ``context``'s event (TOTP,
    card): the budget refreshes, the takeover detector learns the network
    and browser. Called once, after the guard has let the event through;
    like ``learn_one``, it may write to the store.
    """

    def on_step_up(self, context: EventContext) -> None:
        """Update state now that the account's owner passed step-up on ``context``'s event."""
        ...


@runtime_checkable
class RefusalHook(Protocol):
    """What a detector that counts refused events has, besides `Detector`'s methods.

    The guard refused ``context``'s event on a standing lock or ban, without
    scoring it; ``on_refused`` may count it (it may write to the store), and
    must stay cheap: a banned sender decides how often it is called.
    """

    def on_refused(self, context: EventContext) -> None:
        """Count ``context``'s event, refused on a standing lock or ban."""
        ...
