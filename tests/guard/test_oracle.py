"""Oracle tests: the guard's window counts equal a DuckDB query over the same events.

The guard replays the small simulated directory, step-ups simulated from the
truth as evaluation does (a thief fails and the account is locked, the owner
passes and the budget is refreshed); for every look-up it records,
just before deciding, the counts its store holds for the account and the
facts the counts are made of (explained or not, how many unexplained people
it handed out, a search's included, the verdict, whether a lock or ban
refused it before any detector ran). DuckDB then recounts a sample of
~200 of those reads from the recorded rows alone, bucketing time as
`rempart.windows.RollingCount` does: a bucket starts at ``t - t mod
resolution`` and counts while ``start + resolution > now - period``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from rempart.events import Event, EventKind
from rempart.evidence import CareEvidence
from rempart.guard import Decision, Guard, Verdict
from rempart.replay import replay
from rempart.stores.base import Window
from rempart.stores.keys import AutomationKeys, BudgetKeys
from rempart.stores.memory import MemoryStore

from .conftest import Simulated

BUDGET = (Window(3_600, 60), Window(86_400, 900), Window(7 * 86_400, 3_600))
TEN_MINUTES = (Window(600, 30),)
SAMPLE = 200


@dataclass
class Recorder:
    """A `Defence` that records, before each decision of ``guard``, its counts and the facts."""

    guard: Guard
    thieves: frozenset[str] = frozenset()
    rows: list[dict[str, Any]] = field(default_factory=list)
    budget: dict[int, tuple[float, ...]] = field(default_factory=dict)
    automation: dict[int, tuple[float, ...]] = field(default_factory=dict)

    def observe(self, evidence: CareEvidence) -> None:
        self.guard.observe(evidence)

    def step_up(self, event: Event, passed: bool) -> Decision:
        return self.guard.step_up(event, passed)

    def decide(self, event: Event) -> Decision:
        seq, now, account = len(self.rows), event.time.timestamp(), event.account
        context = self.guard.context(event)
        if account is not None and event.kind is EventKind.RECORD_VIEW:
            store = self.guard.store
            self.budget[seq] = store.counts(BudgetKeys.unexplained(account), now, BUDGET)
            self.automation[seq] = store.counts(AutomationKeys.reads(account), now, TEN_MINUTES)
        decision = self.guard.decide(event)
        if decision.verdict is Verdict.CHALLENGE:
            self.guard.step_up(event, passed=event.event_id not in self.thieves)
        enforced = any(r.detector == "guard" for r in decision.reasons)
        self.rows.append(
            {
                "seq": seq,
                "t": now,
                "account": account,
                "record_view": event.kind is EventKind.RECORD_VIEW,
                "is_read": event.is_read,
                "explained": context.explained,
                "unexplained": context.unexplained,
                "verdict": decision.verdict.value,
                "enforced": enforced and decision.verdict is Verdict.DENY,
            }
        )
        return decision


@pytest.fixture(scope="module")
def recorded(small: Simulated) -> Recorder:
    """The small directory replayed through a guard, every look-up's counts recorded."""
    recorder = Recorder(Guard(small.knowledge(), MemoryStore()), small.thieves)
    for _ in replay(small.events, small.evidence, recorder):
        pass
    return recorder


@pytest.fixture(scope="module")
def database(recorded: Recorder) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the recorded rows as table ``decided``."""
    connection = duckdb.connect()
    decided = pa.Table.from_pylist(recorded.rows)
    connection.register("decided", decided)
    return connection


def sample(candidates: list[int], interesting: list[int]) -> list[int]:
    """About ``SAMPLE`` positions, half of them among the ``interesting`` ones, seeded."""
    rng = random.Random(20220301)
    half = SAMPLE // 2
    chosen = set(rng.sample(interesting, min(half, len(interesting))))
    rest = [c for c in candidates if c not in chosen]
    chosen.update(rng.sample(rest, min(SAMPLE - len(chosen), len(rest))))
    return sorted(chosen)


def oracle(
    database: duckdb.DuckDBPyConnection,
    positions: list[int],
    windows: tuple[Window, ...],
    condition: str,
    weight: str = "1",
) -> dict[int, tuple[float, ...]]:
    """Per position, per window: the earlier rows of the same account meeting ``condition``
    whose bucket still overlaps the window at the position's time, each counting ``weight``."""
    columns = ", ".join(
        f"coalesce(sum({weight.replace('{row}', 'earlier')}) "
        f"FILTER (WHERE earlier.t - fmod(earlier.t, {w.resolution}) "
        f"+ {w.resolution} > probe.t - {w.period}), 0) AS w{i}"
        for i, w in enumerate(windows)
    )
    query = f"""
        WITH probe AS (SELECT * FROM decided WHERE seq IN (SELECT unnest(?)))
        SELECT probe.seq, {columns}
        FROM probe
        LEFT JOIN decided AS earlier
          ON earlier.account = probe.account
         AND earlier.seq < probe.seq
         AND earlier.t <= probe.t
         AND ({condition.replace("{row}", "earlier")})
        GROUP BY probe.seq
        ORDER BY probe.seq
    """
    return {
        int(seq): tuple(float(n) for n in counts)
        for seq, *counts in database.execute(query, [positions]).fetchall()
    }


BUDGET_COUNTED = "{row}.unexplained > 0 AND {row}.verdict <> 'deny'"
BUDGET_WEIGHT = "{row}.unexplained"  # an unexplained read's one, a search's unexplained people
AUTOMATION_COUNTED = "{row}.record_view AND NOT {row}.enforced"


def test_stream_is_in_time_order(small: Simulated) -> None:
    """The events are in time order, as RollingCount requires for exact totals."""
    times = [event.time for event in small.events]
    assert times == sorted(times)


def test_replay_locks_and_refuses_reads(recorded: Recorder) -> None:
    """Locks refuse look-ups before any detector runs (else the oracles' filters prove
    nothing)."""
    refused = [row for row in recorded.rows if row["record_view"] and row["enforced"]]
    assert len(refused) > 100


def test_budget_counts_equal_duckdb(
    recorded: Recorder, database: duckdb.DuckDBPyConnection
) -> None:
    """The unexplained-read counts (hour, day, week) the budget sees before each sampled read
    equal DuckDB's count of the account's earlier unexplained, not-denied reads and of the
    unexplained people its earlier not-denied searches listed."""
    counts = recorded.budget
    interesting = [seq for seq, hour in counts.items() if hour[0] > 0]
    positions = sample(sorted(counts), interesting)
    assert len(positions) == SAMPLE
    assert sum(1 for seq in positions if counts[seq][0] > 0) >= SAMPLE // 2
    assert any(row["unexplained"] > 1 and not row["is_read"] for row in recorded.rows)
    expected = oracle(database, positions, BUDGET, BUDGET_COUNTED, BUDGET_WEIGHT)
    assert {seq: counts[seq] for seq in positions} == expected


def test_automation_counts_equal_duckdb(
    recorded: Recorder, database: duckdb.DuckDBPyConnection
) -> None:
    """The automation detector's 10-minute look-up counts before each sampled look-up equal
    DuckDB's count of the account's earlier look-ups that reached the detectors."""
    counts = recorded.automation
    interesting = [seq for seq, (recent,) in counts.items() if recent >= 5]
    positions = sample(sorted(counts), interesting)
    assert len(positions) == SAMPLE
    expected = oracle(database, positions, TEN_MINUTES, AUTOMATION_COUNTED)
    assert {seq: counts[seq] for seq in positions} == expected


def test_every_read_count_equals_duckdb(
    recorded: Recorder, database: duckdb.DuckDBPyConnection
) -> None:
    """Over every read of the replay, not a sample, the hour's budget count equals DuckDB's."""
    counts = recorded.budget
    positions = sorted(counts)
    expected = oracle(database, positions, BUDGET[:1], BUDGET_COUNTED, BUDGET_WEIGHT)
    mismatched = [seq for seq in positions if counts[seq][:1] != expected[seq]]
    assert mismatched == []
