"""The bounded memory of recent decisions per account."""

from __future__ import annotations

import pytest

from rempart.errors import ConfigError
from rempart.guard.decision import Decision, Verdict
from rempart.service.recent import RecentDecisions


def _decision(n: int) -> Decision:
    """An allow decision for event ``evN``."""
    return Decision(event_id=f"ev{n}", verdict=Verdict.ALLOW)


def test_accounts_beyond_the_bound_are_forgotten_least_recent_first() -> None:
    """With room for two accounts, the one decided longest ago goes first."""
    recent = RecentDecisions(per_account=3, max_accounts=2)
    recent.add("A1", _decision(1))
    recent.add("A2", _decision(2))
    recent.add("A1", _decision(3))
    recent.add("A3", _decision(4))
    assert recent.of("A2") == []
    assert [d.event_id for d in recent.of("A1")] == ["ev3", "ev1"]
    assert [d.event_id for d in recent.of("A3")] == ["ev4"]


def test_bounds_must_be_positive() -> None:
    """A zero bound is a configuration error naming the key."""
    with pytest.raises(ConfigError, match="per_account"):
        RecentDecisions(per_account=0)
    with pytest.raises(ConfigError, match="max_accounts"):
        RecentDecisions(max_accounts=0)
