"""Parquet reading and writing: round trips and rows located by number."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rempart.errors import InputError
from rempart.events import Event
from rempart.evidence import CareEvidence
from rempart.ingestion import (
    EVENT_ARROW_SCHEMA,
    events_to_table,
    read_events,
    read_records,
    records_to_table,
    write_records,
)
from rempart.ingestion import parquet as parquet_module

from .conftest import CLEAR_NIR, sample_sites


def test_events_round_trip(tmp_path: Path, events: list[Event]) -> None:
    """Events written to Parquet read back equal, in order, with no rejects."""
    path = tmp_path / "events.parquet"
    assert write_records(path, events) == len(events)
    result = read_events(path)
    assert result.records == events
    assert result.rejected == []


def test_evidence_round_trip(tmp_path: Path, evidence: list[CareEvidence]) -> None:
    """Care evidence written to Parquet reads back equal."""
    path = tmp_path / "evidence.parquet"
    write_records(path, evidence)
    assert read_records(path, CareEvidence).records == evidence


def test_file_carries_the_canonical_schema(tmp_path: Path, events: list[Event]) -> None:
    """The Parquet file's Arrow schema is EVENT_ARROW_SCHEMA (UTC timestamps, nullable columns)."""
    path = tmp_path / "events.parquet"
    write_records(path, events)
    schema = pq.read_schema(path)
    assert schema.remove_metadata().equals(EVENT_ARROW_SCHEMA.remove_metadata())
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"


def test_empty_parquet_needs_a_record_type(tmp_path: Path) -> None:
    """No records and no record_type cannot pick a schema; with record_type the file is empty."""
    with pytest.raises(TypeError, match="record_type"):
        write_records(tmp_path / "none.parquet", [])
    path = tmp_path / "empty.parquet"
    assert write_records(path, [], record_type=Event) == 0
    assert read_events(path).ok_count == 0


def test_records_without_columnar_form_are_refused(tmp_path: Path) -> None:
    """Sites have no Arrow schema: writing them to Parquet is a TypeError and leaves no file."""
    path = tmp_path / "sites.parquet"
    with pytest.raises(TypeError, match="Site has no Arrow schema"):
        write_records(path, sample_sites())
    assert list(tmp_path.iterdir()) == []


def test_mixed_record_types_are_refused(
    tmp_path: Path, events: list[Event], evidence: list[CareEvidence]
) -> None:
    """A Parquet file holds one record type: a stray evidence among events is a TypeError."""
    with pytest.raises(TypeError, match="expected Event, got CareEvidence"):
        write_records(tmp_path / "events.parquet", [*events, evidence[0]])


def test_bad_rows_are_located_by_row_number(
    tmp_path: Path, events: list[Event], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bad rows become Rejected with their 1-based row number across batches; good rows are kept."""
    monkeypatch.setattr(parquet_module, "ARROW_BATCH", 3)
    rows = events_to_table(events).to_pylist()
    rows[1]["kind"] = "bulk_export"
    rows[4]["subject"] = CLEAR_NIR
    rows[4]["kind"] = "record_view"
    rows[7]["ip"] = "999.1.1.1"
    path = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=EVENT_ARROW_SCHEMA), path)
    result = read_events(path)
    assert [(r.line, r.field) for r in result.rejected] == [
        (2, "$.kind"),
        (5, "$.subject"),
        (8, "$.ip"),
    ]
    assert result.ok_count == len(events) - 3
    assert '"bulk_export"' in result.rejected[0].raw
    assert CLEAR_NIR in result.rejected[1].raw
    assert CLEAR_NIR not in result.rejected[1].message


def test_naive_timestamps_are_rejected(tmp_path: Path, events: list[Event]) -> None:
    """A timestamp column without a time zone rejects every row at ``$.time``, as in JSON."""
    table = events_to_table(events[:3])
    naive = table.set_column(0, "time", table.column("time").cast(pa.timestamp("us")))
    path = tmp_path / "events.parquet"
    pq.write_table(naive, path)
    result = read_events(path)
    assert [(r.line, r.field) for r in result.rejected] == [
        (1, "$.time"),
        (2, "$.time"),
        (3, "$.time"),
    ]


def test_unknown_and_missing_columns_are_located(tmp_path: Path, events: list[Event]) -> None:
    """An extra column rejects each row at that column; a missing required one, at that field."""
    table = events_to_table(events[:2])
    path = tmp_path / "events.parquet"
    pq.write_table(table.append_column("nir", pa.array(["x", None])), path)
    assert {r.field for r in read_events(path).rejected} == {"$.nir"}
    pq.write_table(table.drop_columns(["event_id"]), path)
    assert [(r.line, r.field) for r in read_events(path).rejected] == [
        (1, "$.event_id"),
        (2, "$.event_id"),
    ]


def test_archive_from_before_search_results_still_reads(
    tmp_path: Path, events: list[Event]
) -> None:
    """A file written before the ``results`` column existed reads as events listing nobody."""
    older = [e for e in events if not e.results]
    path = tmp_path / "events.parquet"
    pq.write_table(events_to_table(older).drop_columns(["results"]), path)
    result = read_events(path)
    assert (result.records, result.rejected) == (older, [])


def test_not_parquet_raises_input_error(tmp_path: Path) -> None:
    """A file that is not Parquet raises InputError naming it."""
    path = tmp_path / "events.parquet"
    path.write_bytes(b"PAR1 but not really")
    with pytest.raises(InputError, match=r"events\.parquet"):
        read_events(path)


@pytest.mark.parametrize(
    "time_type",
    [
        pa.timestamp("us", tz="UTC"),
        pa.timestamp("ms", tz="Europe/Paris"),
        pa.timestamp("ns", tz="+05:30"),
    ],
)
def test_aware_times_are_read_as_utc(
    tmp_path: Path, evidence: list[CareEvidence], time_type: pa.TimestampType
) -> None:
    """Aware timestamps of any unit and zone read back as the same instants, in datetime.UTC."""
    table = records_to_table(evidence, CareEvidence)
    table = table.set_column(0, "time", table.column("time").cast(time_type))
    path = tmp_path / "evidence.parquet"
    pq.write_table(table, path)
    records = read_records(path, CareEvidence).records
    assert records == evidence
    assert all(record.time.tzinfo is UTC for record in records)
