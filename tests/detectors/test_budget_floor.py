"""The budget's floors: the usual one, and the lower one when the takeover signs together are
strong; each at its boundary."""

from __future__ import annotations

import pytest

from rempart.detectors import UnexplainedBudget
from rempart.detectors.testing import context_for
from rempart.policy import Policy
from rempart.stores.memory import MemoryStore
from rempart.testing import make_event


@pytest.mark.parametrize(
    ("tighten", "hourly"),
    [
        (1.0, 10.0),  # no sign: the hour's budget
        (0.2, 3.0),  # 10 x 0.2 = 2, raised to the floor of 3
        (0.1000001, 3.0),  # just above strong_tighten: still the usual floor
        (0.1, 1.0),  # at strong_tighten: the strong floor of 1
        (0.05, 1.0),
    ],
)
def test_floor_depends_on_how_strong_the_signs_are(tighten: float, hourly: float) -> None:
    """The hour's limit is the tightened budget, never below the floor of 3, unless the signs
    together tighten to 0.1 or below, where the floor is 1."""
    budget = UnexplainedBudget(MemoryStore(), Policy.default())
    context = context_for(make_event())
    context.tighten = tighten
    assert budget.limits(context)[0] == pytest.approx(hourly)


def test_strong_floor_is_a_policy_key() -> None:
    """``budget.strong_floor`` and ``budget.strong_tighten`` come from the policy file."""
    policy = Policy.from_toml_text(
        "[budget]\nstrong_floor = 2\nstrong_tighten = 0.3\n", source="test"
    )
    budget = UnexplainedBudget(MemoryStore(), policy)
    context = context_for(make_event())
    context.tighten = 0.25
    assert budget.limits(context)[0] == pytest.approx(2.5)
    context.tighten = 0.15
    assert budget.limits(context)[0] == pytest.approx(2.0)
