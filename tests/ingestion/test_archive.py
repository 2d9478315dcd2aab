"""The day-partitioned event archive: each event once, by UTC day, the same bytes every time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow.parquet as pq

from rempart.events import Event
from rempart.ingestion import table_to_events
from rempart.ingestion.archive import AddResult, EventArchive
from rempart.testing import make_event

from .conftest import sample_events

START = datetime(2022, 3, 1, 22, 30, tzinfo=UTC)


def _read_all(archive: EventArchive) -> list[Event]:
    events: list[Event] = []
    for part in archive.parts():
        events.extend(table_to_events(pq.read_table(part)))
    return events


def test_every_field_survives_the_archive(tmp_path: Path) -> None:
    """Events of every kind and optional field read back from the parts equal to what was added."""
    archive = EventArchive(tmp_path / "a")
    events = sample_events()
    assert archive.add(events) == AddResult(len(events), 0)
    assert sorted(_read_all(archive), key=lambda e: e.event_id) == sorted(
        events, key=lambda e: e.event_id
    )


def test_days_are_utc_days(tmp_path: Path) -> None:
    """An event at 00:30 in Paris on 2 March is stored under 1 March, its UTC day."""
    paris = timezone(timedelta(hours=1))
    archive = EventArchive(tmp_path / "a")
    archive.add([make_event(event_id="e1", time=datetime(2022, 3, 2, 0, 30, tzinfo=paris))])
    assert archive.days() == ["2022-03-01"]


def test_the_same_events_twice_add_nothing(tmp_path: Path) -> None:
    """Adding events already held, within one call or across calls, stores each once."""
    archive = EventArchive(tmp_path / "a", buffer_rows=3)
    events = [make_event(event_id=f"e{i}", time=START + timedelta(hours=i)) for i in range(7)]
    assert archive.add(events + events[:2]) == AddResult(7, 2)
    assert archive.add(reversed(events)) == AddResult(0, 7)
    assert archive.count() == 7
    assert archive.days() == ["2022-03-01", "2022-03-02"]


def test_small_buffers_write_several_parts_per_day(tmp_path: Path) -> None:
    """A buffer smaller than a day's events flushes as it goes, and every event is kept."""
    archive = EventArchive(tmp_path / "a", buffer_rows=2)
    events = [make_event(event_id=f"e{i}", time=START + timedelta(seconds=i)) for i in range(5)]
    archive.add(events)
    assert len(archive.parts()) == 3
    assert archive.count() == 5


def test_parts_are_byte_deterministic(tmp_path: Path) -> None:
    """The same events give parts of the same names and the same bytes."""
    events = sample_events()
    first, second = EventArchive(tmp_path / "one"), EventArchive(tmp_path / "two")
    first.add(events)
    second.add(list(reversed(events)))
    names = [p.relative_to(first.root) for p in first.parts()]
    assert names == [p.relative_to(second.root) for p in second.parts()]
    for name in names:
        assert (first.root / name).read_bytes() == (second.root / name).read_bytes()


def test_an_empty_archive_has_no_days(tmp_path: Path) -> None:
    """A folder not yet written reads as an archive with nothing in it."""
    archive = EventArchive(tmp_path / "nothing")
    assert (archive.days(), archive.parts(), archive.count()) == ([], [], 0)
