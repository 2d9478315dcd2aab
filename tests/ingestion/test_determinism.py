"""Writers give the same bytes for the same input, whatever the file name or the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from rempart.events import Event
from rempart.evidence import CareEvidence
from rempart.ingestion import events_to_table, write_event_table, write_records

SUFFIXES = [".jsonl", ".jsonl.gz", ".parquet"]


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_write_records_is_byte_deterministic(
    tmp_path: Path, events: list[Event], evidence: list[CareEvidence], suffix: str
) -> None:
    """Writing the same records twice, under different names, gives identical bytes."""
    for name, records in (("events", events), ("evidence", evidence)):
        first, second = tmp_path / f"{name}-1{suffix}", tmp_path / f"other-{name}{suffix}"
        write_records(first, records)
        write_records(second, iter(records))
        assert first.read_bytes() == second.read_bytes()


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_write_event_table_is_byte_deterministic(
    tmp_path: Path, events: list[Event], suffix: str
) -> None:
    """Writing the same table twice gives identical bytes."""
    table = events_to_table(events)
    first, second = tmp_path / f"a{suffix}", tmp_path / f"b{suffix}"
    write_event_table(first, table)
    write_event_table(second, events_to_table(events))
    assert first.read_bytes() == second.read_bytes()


def test_rewrite_replaces_the_file(tmp_path: Path, events: list[Event]) -> None:
    """Writing over an existing file replaces it whole and leaves no temporary file."""
    path = tmp_path / "events.jsonl"
    write_records(path, events)
    write_records(path, events[:1])
    assert path.read_bytes().count(b"\n") == 1
    assert [p.name for p in tmp_path.iterdir()] == ["events.jsonl"]
