"""The canonical Arrow schemas and table conversions."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pyarrow as pa
import pytest

from rempart.errors import InputError, RecordError
from rempart.events import Event
from rempart.evidence import CareEvidence
from rempart.ingestion import (
    EVENT_ARROW_SCHEMA,
    EVIDENCE_ARROW_SCHEMA,
    events_to_table,
    read_events,
    records_to_table,
    table_to_events,
    table_to_records,
    write_event_table,
    write_records,
)


@pytest.mark.parametrize(
    ("schema", "record_type"), [(EVENT_ARROW_SCHEMA, Event), (EVIDENCE_ARROW_SCHEMA, CareEvidence)]
)
def test_schema_follows_struct_fields(schema: pa.Schema, record_type: type[msgspec.Struct]) -> None:
    """Columns are the struct's fields in order, nullable exactly where the field can be None."""
    assert schema.names == list(record_type.__struct_fields__)
    info = msgspec.inspect.type_info(record_type)
    assert isinstance(info, msgspec.inspect.StructType)
    for field, column in zip(info.fields, schema, strict=True):
        can_be_none = isinstance(field.type, msgspec.inspect.UnionType) and any(
            isinstance(t, msgspec.inspect.NoneType) for t in field.type.types
        )
        assert column.nullable == can_be_none, field.name
    assert schema.field("time").type == pa.timestamp("us", tz="UTC")


def test_event_columns_have_the_documented_types(events: list[Event]) -> None:
    """Categories and results are list<string>, result_count int32, birth_date_match bool; None
    becomes null, no results an empty list."""
    table = events_to_table(events)
    assert table.schema.field("categories").type == pa.list_(pa.string())
    assert table.schema.field("results").type == pa.list_(pa.string())
    assert table.column("results").null_count == 0
    assert table.column("results").to_pylist() == [list(e.results) for e in events]
    assert any(e.results for e in events)
    assert table.schema.field("result_count").type == pa.int32()
    assert table.schema.field("birth_date_match").type == pa.bool_()
    assert table.column("account").null_count == 0
    assert table.column("subject").null_count == sum(e.subject is None for e in events)
    assert table.column("outcome").null_count == 0


def test_tables_round_trip(events: list[Event], evidence: list[CareEvidence]) -> None:
    """Records to a table and back give the same records."""
    assert list(table_to_events(events_to_table(events))) == events
    table = records_to_table(evidence, CareEvidence)
    assert list(table_to_records(table, CareEvidence)) == evidence


def test_empty_table_has_the_schema() -> None:
    """No events give an empty table that still has the canonical schema."""
    table = events_to_table([])
    assert table.num_rows == 0
    assert table.schema.equals(EVENT_ARROW_SCHEMA)


def test_bad_table_row_raises_located_error(events: list[Event]) -> None:
    """A row that does not validate raises RecordError with its 1-based row number and field."""
    rows = events_to_table(events).to_pylist()
    rows[2]["lookup"] = "telepathy"
    table = pa.Table.from_pylist(rows, schema=EVENT_ARROW_SCHEMA)
    with pytest.raises(RecordError) as caught:
        list(table_to_events(table))
    assert (caught.value.line, caught.value.field) == (3, "$.lookup")


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".parquet"])
def test_write_event_table_round_trips(tmp_path: Path, events: list[Event], suffix: str) -> None:
    """Writing a table gives a file that reads back as the events it holds."""
    path = tmp_path / f"events{suffix}"
    assert write_event_table(path, events_to_table(events)) == len(events)
    assert read_events(path).records == events


def test_table_jsonl_is_exactly_the_record_jsonl(tmp_path: Path, events: list[Event]) -> None:
    """A table written as JSON Lines has the very bytes of its events written as records."""
    write_event_table(tmp_path / "table.jsonl", events_to_table(events))
    write_records(tmp_path / "records.jsonl", events)
    assert (tmp_path / "table.jsonl").read_bytes() == (tmp_path / "records.jsonl").read_bytes()


def test_write_event_table_accepts_equivalent_encodings(
    tmp_path: Path, events: list[Event]
) -> None:
    """Dictionary-encoded strings and Parquet's list item name are cast to the canonical schema."""
    table = events_to_table(events)
    kinds = table.column("kind").dictionary_encode()
    categories = table.column("categories").cast(pa.list_(pa.field("element", pa.string())))
    table = table.set_column(2, "kind", kinds).set_column(9, "categories", categories)
    path = tmp_path / "events.jsonl"
    write_event_table(path, table)
    write_records(tmp_path / "records.jsonl", events)
    assert path.read_bytes() == (tmp_path / "records.jsonl").read_bytes()


def test_write_event_table_refuses_other_columns(tmp_path: Path, events: list[Event]) -> None:
    """Missing or misplaced columns, or nulls in a non-nullable column, raise InputError."""
    table = events_to_table(events)
    with pytest.raises(InputError, match="columns"):
        write_event_table(tmp_path / "e.parquet", table.drop_columns(["ip"]))
    nulls = table.set_column(10, "outcome", pa.nulls(table.num_rows, pa.string()))
    loose = pa.Table.from_arrays(nulls.columns, names=nulls.column_names)
    with pytest.raises(InputError, match="EVENT_ARROW_SCHEMA"):
        write_event_table(tmp_path / "e.parquet", loose)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_write_event_table_validates_rows(tmp_path: Path, events: list[Event], suffix: str) -> None:
    """A bad row stops the write with its row number and leaves no file behind."""
    rows = events_to_table(events).to_pylist()
    rows[4]["kind"] = "bulk_export"
    table = pa.Table.from_pylist(rows, schema=EVENT_ARROW_SCHEMA)
    with pytest.raises(RecordError, match=r"<arrow table>:5: \$\.kind"):
        write_event_table(tmp_path / f"events{suffix}", table)
    assert list(tmp_path.iterdir()) == []
