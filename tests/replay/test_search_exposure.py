"""Exposure through searches: every person an allowed search listed counts, once."""

from __future__ import annotations

from datetime import timedelta

from rempart.events import Event, EventKind, Lookup
from rempart.replay.evaluation import _Attacker, _count_attack, _scenario_figures
from rempart.testing import make_event, pseudonym_for


def _at(minutes: float, **fields: object) -> Event:
    base = make_event(kind=EventKind.LOGOUT)
    return make_event(time=base.time + timedelta(minutes=minutes), **fields)


def _search(minutes: float, people: range) -> Event:
    return _at(
        minutes,
        kind=EventKind.SEARCH,
        lookup=Lookup.SEARCH,
        results=tuple(pseudonym_for(n) for n in people),
    )


def test_allowed_searches_expose_their_people_once_refused_ones_nobody() -> None:
    """Two allowed searches and a read of someone they listed expose the distinct people
    listed; a refused search exposes nobody; searches that list people are look-ups (one
    that lists nobody is not, so the refusal still contains the attacker)."""
    attackers: dict[str, _Attacker] = {}
    steps = [
        (_search(0, range(5)), False),
        (_at(1, subject=pseudonym_for(2)), False),
        (_search(2, range(3, 8)), False),
        (_search(3, range(100, 120)), True),
        (_at(4, kind=EventKind.SEARCH, lookup=Lookup.SEARCH, result_count=40), False),
    ]
    for event, refused in steps:
        _count_attack(attackers, "harvest", "h1", event, event.time.timestamp(), False, refused)
    figures = _scenario_figures(attackers)["harvest"]
    assert figures["exposed"] == 8
    assert figures["exposed_per_account_week_max"] == 8
    assert figures["reads_allowed"] == 1
    assert figures["lookups"] == 4
    assert figures["accounts_contained"] == 1
