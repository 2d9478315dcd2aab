"""Every decision that is not ``allow`` says why, with the figure that triggered it.

The guard replays the small simulated directory (events and care evidence)
and every one of its decisions is checked, not a sample.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from rempart.directory import Account, Profession
from rempart.guard import Decision, Guard, Knowledge, Verdict
from rempart.replay import replay
from rempart.stores.memory import MemoryStore
from rempart.testing import make_event, pseudonym_for

from .conftest import Simulated

ACCOUNT = make_event().account or ""


def has_figure(decision: Decision) -> bool:
    """Whether one of the decision's reasons has a digit (a figure) in its message."""
    return any(any(ch.isdigit() for ch in reason.message) for reason in decision.reasons)


@pytest.fixture(scope="module")
def refusals(small: Simulated) -> list[Decision]:
    """The guard's decisions on the small directory that are not ``allow``."""
    guard = Guard(small.knowledge(), MemoryStore())
    decisions = list(replay(small.events, small.evidence, guard))
    assert len(decisions) == len(small.events)
    return [d for d in decisions if d.verdict is not Verdict.ALLOW]


def test_replay_refuses_something(refusals: list[Decision]) -> None:
    """The small directory's attacks draw challenges and denials (else the checks prove
    nothing)."""
    verdicts = Counter(d.verdict for d in refusals)
    assert verdicts[Verdict.CHALLENGE] > 100
    assert verdicts[Verdict.DENY] > 10


def test_every_refusal_has_a_reason(refusals: list[Decision]) -> None:
    """Every challenge and denial carries at least one reason with a code and a message."""
    missing = [d.event_id for d in refusals if not d.reasons]
    assert missing == []
    for decision in refusals:
        for reason in decision.reasons:
            assert reason.detector
            assert reason.code
            assert reason.message.strip()


def test_every_detector_refusal_names_its_figure(refusals: list[Decision]) -> None:
    """Every refusal a detector raised has a reason whose message contains a figure."""
    scored = [d for d in refusals if any(r.detector != "guard" for r in d.reasons)]
    assert scored
    without = Counter(tuple(r.code for r in d.reasons) for d in scored if not has_figure(d))
    assert without == Counter()


def test_every_refusal_names_its_figure(refusals: list[Decision]) -> None:
    """Every refusal, the guard's own enforcement of bans included, has a figure in a reason."""
    without = Counter(tuple(r.code for r in d.reasons) for d in refusals if not has_figure(d))
    assert without == Counter()


def _locked_guard() -> tuple[Guard, datetime]:
    """A guard whose account read a canary and is locked."""
    canary = pseudonym_for(999)
    knowledge = Knowledge(
        accounts={ACCOUNT: Account(account=ACCOUNT, profession=Profession.PHARMACIST, site="S1")},
        sites={},
        canaries=frozenset({canary}),
    )
    guard = Guard(knowledge, MemoryStore())
    start = datetime(2022, 3, 1, 9, tzinfo=UTC)
    guard.decide(make_event(kind="login_success", time=start, event_id="e1"))
    read = make_event(time=start + timedelta(minutes=1), event_id="e2", subject=canary)
    assert guard.decide(read).verdict is Verdict.DENY
    return guard, start + timedelta(minutes=2)


def test_account_locked_names_its_figure() -> None:
    """A denial of a locked account's event says since when it is locked."""
    guard, later = _locked_guard()
    decision = guard.decide(make_event(time=later, event_id="e3", subject=pseudonym_for(5)))
    assert [r.code for r in decision.reasons] == ["account_locked"]
    assert has_figure(decision)
    assert decision.reasons[0].figures


def test_canary_denial_names_its_figure() -> None:
    """A canary read's denial carries a figure in its reason."""
    guard, later = _locked_guard()
    guard.lift_lock(ACCOUNT, now=later)
    canary = next(iter(guard.knowledge.canaries))
    read = make_event(time=later + timedelta(minutes=1), event_id="e4", subject=canary)
    decision = guard.decide(read)
    assert decision.verdict is Verdict.DENY
    assert "canary" in [r.code for r in decision.reasons]
    assert has_figure(decision)
