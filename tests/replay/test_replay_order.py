"""``rempart replay`` on input out of time order: reordered within the window, refused beyond."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rempart.cli import main
from rempart.errors import ConfigError, RecordError
from rempart.events import Event
from rempart.evidence import CareEvidence, EvidenceKind
from rempart.guard import Guard, Knowledge
from rempart.ingestion import iter_records, write_records
from rempart.replay.baselines import NoDefence
from rempart.replay.replay import DEFAULT_REORDER_WINDOW, in_time_order, replay
from rempart.testing import make_event, pseudonym_for

from .cli import run_replay

T0 = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)
EVENTS = 6_000
_R = TypeVar("_R", Event, CareEvidence)


@dataclass(frozen=True)
class Record:
    """A bare timed record for the reorder buffer's property tests."""

    time: datetime
    number: int


@pytest.fixture(scope="module")
def stream(small_dir: Path) -> tuple[list[Event], list[CareEvidence]]:
    """The small directory's first events, and the evidence up to the last of them, sorted."""
    events = list(itertools.islice(iter_records(small_dir / "events.parquet", Event, []), EVENTS))
    end = events[-1].time
    evidence = [
        piece
        for piece in iter_records(small_dir / "evidence.parquet", CareEvidence, [])
        if piece.time <= end
    ]
    return events, evidence


def _decisions(
    small_dir: Path, events: list[Event], evidence: list[CareEvidence], **options: Any
) -> list[dict[str, Any]]:
    """The guard's decisions over ``events`` and ``evidence``, as dicts, in replay order."""
    guard = Guard(Knowledge.from_world(small_dir / "world"))
    return [decision.to_dict() for decision in replay(events, evidence, guard, **options)]


def _jittered(records: list[_R], spread: float, seed: int) -> list[_R]:
    """``records`` shuffled by up to ``spread`` seconds (records at one time keep their order)."""
    rng = random.Random(seed)
    jitter: dict[datetime, float] = {}
    for record in records:
        jitter.setdefault(record.time, rng.uniform(0, spread))
    return sorted(records, key=lambda record: record.time.timestamp() + jitter[record.time])


def test_small_disorder_within_the_window_gives_the_decisions_of_sorted_input(
    small_dir: Path, stream: tuple[list[Event], list[CareEvidence]]
) -> None:
    """Events and evidence shuffled by up to 4 s are decided exactly as the sorted input."""
    events, evidence = stream
    shuffled_events = _jittered(events, 4.0, seed=1)
    shuffled_evidence = _jittered(evidence, 4.0, seed=2)
    assert shuffled_events != events
    assert shuffled_evidence != evidence
    expected = _decisions(small_dir, events, evidence, reorder_window=0)
    assert _decisions(small_dir, shuffled_events, shuffled_evidence) == expected


def test_an_event_older_than_the_window_is_refused_with_its_location() -> None:
    """An event a minute older than one before it stops the replay, located by position and id."""
    events = [make_event(event_id=f"ev{n}", time=T0 + timedelta(seconds=10 * n)) for n in range(8)]
    events.insert(6, make_event(event_id="late", time=T0 + timedelta(seconds=2)))
    with pytest.raises(RecordError) as raised:
        list(replay(events, [], NoDefence(), events_source="events.jsonl"))
    error = raised.value
    assert (error.source, error.line, error.field) == ("events.jsonl", 7, "$.time")
    assert "event late at 2022-03-01T09:00:02Z is 48 s older" in error.message
    assert "must be sorted by time, e.g. with DuckDB: COPY" in error.message


def test_evidence_older_than_the_window_is_refused_with_its_location() -> None:
    """Evidence out of order beyond the window is refused too, naming the evidence source."""
    evidence = [
        CareEvidence(
            time=T0 + timedelta(minutes=n),
            kind=EvidenceKind.CARD_READ,
            subject=pseudonym_for(n),
            site="S1",
        )
        for n in (0, 1, 2, 0)
    ]
    events = [make_event(event_id=f"ev{n}", time=T0 + timedelta(minutes=n)) for n in range(5)]
    with pytest.raises(RecordError) as raised:
        list(replay(events, evidence, NoDefence(), evidence_source="ev.parquet"))
    assert (raised.value.source, raised.value.line) == ("ev.parquet", 4)
    assert "card_read evidence" in raised.value.message


def test_a_zero_window_accepts_ties_and_refuses_any_inversion() -> None:
    """With no reorder window, events at one time pass in file order and any step back fails."""
    tied = [make_event(event_id=f"ev{n}", time=T0) for n in range(3)]
    assert [d.event_id for d in replay(tied, [], NoDefence(), reorder_window=0)] == [
        "ev0",
        "ev1",
        "ev2",
    ]
    stepped = [*tied, make_event(event_id="back", time=T0 - timedelta(milliseconds=1))]
    with pytest.raises(RecordError, match="back"):
        list(replay(stepped, [], NoDefence(), reorder_window=0))


@pytest.mark.parametrize("window", [-1.0, float("nan"), float("inf")])
def test_a_window_that_is_not_a_duration_is_a_config_error(window: float) -> None:
    """A negative, NaN or infinite window is refused when the replay is set up."""
    with pytest.raises(ConfigError, match="reorder_window"):
        replay([], [], NoDefence(), reorder_window=window)


@given(
    offsets=st.lists(st.integers(min_value=0, max_value=60), max_size=40),
    window=st.integers(min_value=0, max_value=20),
)
def test_the_buffer_sorts_or_refuses_exactly_beyond_the_window(
    offsets: list[int], window: int
) -> None:
    """Output is the stable sort of the input, unless a record is older than the watermark."""
    records = [Record(T0 + timedelta(seconds=s), n) for n, s in enumerate(offsets)]
    late = next(
        (
            n
            for n, record in enumerate(records)
            if n and record.time < max(r.time for r in records[:n]) - timedelta(seconds=window)
        ),
        None,
    )
    ordered = in_time_order(records, window, source="s", describe=lambda r: f"record {r.number}")
    if late is None:
        assert list(ordered) == sorted(records, key=lambda r: r.time)
    else:
        with pytest.raises(RecordError) as raised:
            list(ordered)
        assert raised.value.line == late + 1


def _cli(small_dir: Path, source: Path, out: Path, *extra: str) -> Any:
    evidence = str(small_dir / "evidence.parquet")
    return run_replay(small_dir, source, out, "--evidence", evidence, "-q", *extra)


def test_replay_cli_refuses_unsorted_input_naming_the_file_line_and_event(
    small_dir: Path, stream: tuple[list[Event], list[CareEvidence]], tmp_path: Path
) -> None:
    """``rempart replay`` on a file with one event moved an hour late exits 2, writing nothing."""
    events = list(stream[0][:2_000])
    moved = events.pop(100)
    events.insert(1_500, moved)
    assert events[1_499].time - moved.time > timedelta(hours=1)
    source = tmp_path / "events.jsonl"
    write_records(source, events)
    out = tmp_path / "decisions.jsonl"
    result = _cli(small_dir, source, out)
    assert result.exit_code == 2, result.output
    assert f"{source}:1501: $.time: event {moved.event_id} at " in result.stderr
    assert "must be sorted by time" in result.stderr
    assert "ORDER BY CAST(line->>'time' AS TIMESTAMPTZ)" in result.stderr
    assert not out.exists()


def test_replay_cli_reorders_within_its_window(
    small_dir: Path, stream: tuple[list[Event], list[CareEvidence]], tmp_path: Path
) -> None:
    """``rempart replay`` writes the decisions of the sorted file for a file shuffled by 3 s."""
    events = list(stream[0][:2_000])
    written: list[list[dict[str, Any]]] = []
    for name, records in (("sorted", events), ("shuffled", _jittered(events, 3.0, seed=3))):
        source = tmp_path / f"{name}.jsonl"
        write_records(source, records)
        out = tmp_path / f"{name}-decisions.jsonl"
        result = _cli(small_dir, source, out, "--reorder-window", "3")
        assert result.exit_code == 0, result.output
        written.append([json.loads(line) for line in out.read_text().splitlines()])
    assert written[0] == written[1]


def test_replay_cli_window_defaults_to_the_library_default() -> None:
    """The command's ``--reorder-window`` default is `DEFAULT_REORDER_WINDOW`."""
    command = main.commands["replay"]
    (option,) = [param for param in command.params if param.name == "reorder_window"]
    assert option.default == DEFAULT_REORDER_WINDOW


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_the_sort_command_the_error_gives_sorts_the_file_for_replay(
    suffix: str,
    small_dir: Path,
    stream: tuple[list[Event], list[CareEvidence]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Running the DuckDB command of the error on the file yields a file that replays whole."""
    events = list(stream[0][:1_000])
    events.insert(900, events.pop(10))
    monkeypatch.chdir(tmp_path)
    write_records(f"events{suffix}", events)
    refused = _cli(small_dir, Path(f"events{suffix}"), tmp_path / "refused.jsonl")
    assert refused.exit_code == 2
    command = refused.stderr.split("DuckDB: ", 1)[1].rsplit(" (or replay", 1)[0]
    with duckdb.connect() as connection:  # its own: never the shared default connection
        connection.execute(command)
    (sorted_file,) = tmp_path.glob("sorted.*")
    result = _cli(small_dir, sorted_file, tmp_path / "decisions.jsonl")
    assert result.exit_code == 0, result.output
    assert "1,000 decisions" in result.output
