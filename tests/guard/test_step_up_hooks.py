"""Step-up reaches detectors through their ``on_step_up`` hook, whatever their class."""

from __future__ import annotations

from rempart.decision import Verdict
from rempart.detectors import (
    Finding,
    StepUpHook,
    TakeoverContext,
    UnansweredChallenges,
    default_detectors,
)
from rempart.detectors.context import EventContext
from rempart.guard import Guard, Knowledge, Policy
from rempart.stores.memory import MemoryStore
from rempart.testing import make_event


class Recorder:
    """A third party's detector: it says nothing and records the step-ups it hears of."""

    name = "recorder"

    def __init__(self) -> None:
        self.step_ups: list[str] = []

    def score_one(self, context: EventContext) -> Finding | None:
        return None

    def learn_one(self, context: EventContext, verdict: Verdict) -> None:
        return None

    def on_step_up(self, context: EventContext) -> None:
        self.step_ups.append(context.event.event_id)


class Silent:
    """A detector without the hook."""

    name = "silent"

    def score_one(self, context: EventContext) -> Finding | None:
        return None

    def learn_one(self, context: EventContext, verdict: Verdict) -> None:
        return None


def test_a_passed_step_up_calls_every_detector_that_has_the_hook() -> None:
    """A third party's detector hears of a passed step-up once; one without the hook is skipped."""
    recorder = Recorder()
    guard = Guard(Knowledge(accounts={}, sites={}), detectors=[Silent(), recorder])
    decision = guard.step_up(make_event(event_id="ev1"), passed=True)
    assert decision.verdict is Verdict.ALLOW
    assert recorder.step_ups == ["ev1"]


def test_a_failed_step_up_calls_no_hook() -> None:
    """A failed step-up locks the account and tells no detector that the owner is back."""
    recorder = Recorder()
    guard = Guard(Knowledge(accounts={}, sites={}), detectors=[recorder])
    assert guard.step_up(make_event(event_id="ev1"), passed=False).verdict is Verdict.DENY
    assert recorder.step_ups == []


def test_the_takeover_and_challenge_detectors_are_the_built_in_hooks() -> None:
    """Of the built-in detectors, the takeover context (learns the network) and the unanswered
    challenges (the challenge is answered) act on a step-up; the budget needs no hook, since
    the guard vouches for the session that passed."""
    detectors = default_detectors(MemoryStore(), Policy.default())
    hooked = [type(d) for d in detectors if isinstance(d, StepUpHook)]
    assert hooked == [TakeoverContext, UnansweredChallenges]
