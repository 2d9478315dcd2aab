"""How evaluation models the thief at a challenge, who counts as taken over, and the
detection horizon."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from rempart.events import Event, EventKind
from rempart.evidence import CareEvidence
from rempart.guard.decision import Decision, Verdict
from rempart.replay import NoDefence, Thief, evaluate
from rempart.replay.evaluation import (
    DETECTION_HORIZON_S,
    SECOND_FACTOR_HOLDERS,
    _Attacker,
    _count_attack,
)
from rempart.testing import make_event


@dataclass
class ChallengeEveryRead:
    """A defence that challenges every read and every search that lists people, and records
    each step-up it is told of."""

    step_ups: list[tuple[str, bool]] = field(default_factory=list)

    def decide(self, event: Event) -> Decision:
        looks_up = event.kind is EventKind.RECORD_VIEW or bool(event.results)
        verdict = Verdict.CHALLENGE if looks_up else Verdict.ALLOW
        return Decision(event_id=event.event_id, verdict=verdict, time=event.time)

    def step_up(self, event: Event, passed: bool) -> Decision:
        self.step_ups.append((event.event_id, passed))
        verdict = Verdict.ALLOW if passed else Verdict.DENY
        return Decision(event_id=event.event_id, verdict=verdict, time=event.time)

    def observe(self, evidence: CareEvidence) -> None:
        return None


def _run(directory: Path, thief: Thief) -> tuple[ChallengeEveryRead, dict[str, Any]]:
    defence = ChallengeEveryRead()
    report = evaluate(directory, defences=lambda _: [("challenge", defence)], thief=thief)
    return defence, report.to_dict()["defences"]["challenge"]


@pytest.mark.slow
def test_silent_thief_never_answers_and_failing_thief_does(small_dir: Path) -> None:
    """The silent thief's challenges reach no step-up; the failing thief's reach a failed one;
    owners (and insiders, who hold their own factor) pass theirs either way, and every other
    attacker's read is refused under both."""
    silent, silent_report = _run(small_dir, Thief.SILENT)
    failing, failing_report = _run(small_dir, Thief.FAILS)
    assert silent.step_ups
    assert all(passed for _, passed in silent.step_ups)
    assert any(not passed for _, passed in failing.step_ups)
    passed_by_owners = {event_id for event_id, passed in failing.step_ups if passed}
    assert passed_by_owners == {event_id for event_id, _ in silent.step_ups}
    for report in (silent_report, failing_report):
        for scenario, row in report["scenarios"].items():
            if scenario not in SECOND_FACTOR_HOLDERS:
                assert row["exposed"] == 0, scenario


def test_report_names_its_thief(small_dir: Path) -> None:
    """The report says which thief it models, in JSON and in the table."""
    report = evaluate(small_dir, defences=lambda _: [("none", NoDefence())], thief=Thief.SILENT)
    assert report.to_dict()["thief"] == "silent"
    assert "thief silent" in report.render()


def test_professional_days_exclude_accounts_from_the_first_successful_attack(
    evaluation_report: dict[str, Any], small_dir: Path
) -> None:
    """Owners leave friction from the attacker's first successful event on, not from a failed
    spray login: professional-days equal a DuckDB query applying that rule."""
    query = """
        with truth as (select * from read_parquet(?)),
        events as (select * from read_parquet(?)),
        takeover as (
            select e.account, min(e.time) as since
            from events e join truth t using (event_id)
            where t.attacker is not null and t.label <> 'insider-curiosity'
              and e.outcome = 'success' and e.account is not null
            group by e.account
        )
        select count(distinct (e.account, floor(epoch(e.time) / 86400)))
        from events e join truth t using (event_id)
        left join takeover k on k.account = e.account
        where t.attacker is null and e.account is not null
          and e.kind = 'record_view' and e.subject is not null
          and (k.since is null or e.time < k.since)
    """
    # A connection of the test's own: a result left open on DuckDB's default connection
    # would refuse the next test's statements there.
    with duckdb.connect() as connection:
        rows = connection.execute(
            query, [str(small_dir / "truth.parquet"), str(small_dir / "events.parquet")]
        ).fetchall()
    ((expected,),) = rows
    professional_days = evaluation_report["defences"]["no-defence"]["legitimate"]
    assert professional_days["professional_days"] == expected


def _attack_event(at: float) -> Event:
    base = make_event(kind=EventKind.LOGIN_FAILURE, subject=None, categories=())
    return make_event(
        kind=EventKind.LOGIN_FAILURE,
        subject=None,
        categories=(),
        time=base.time + timedelta(seconds=at),
    )


@pytest.mark.parametrize(
    ("delay", "in_time"),
    [(0.0, True), (DETECTION_HORIZON_S, True), (DETECTION_HORIZON_S + 1, False)],
)
def test_detection_counts_only_within_the_horizon(delay: float, in_time: bool) -> None:
    """A detection up to the horizon after the attacker's first event counts; one later is
    reported as late, not as a detection."""
    attackers: dict[str, _Attacker] = {}
    first = _attack_event(0.0)
    _count_attack(attackers, "x", "a1", first, first.time.timestamp(), False, False)
    later = _attack_event(delay)
    _count_attack(attackers, "x", "a1", later, later.time.timestamp(), True, False)
    attacker = attackers["a1"]
    assert (attacker.first_detection is not None) is in_time
    assert attacker.first_detection_any is not None
