"""The canonical Arrow form of events and care evidence, and conversions to and from records.

Columns follow the struct's fields in order. Times are
``timestamp[us, tz=UTC]``; enums are their string values; ``categories`` and
``results`` are ``list<string>``; a column is null exactly where the struct holds ``None``,
and the columns whose field cannot be ``None`` are declared non-nullable.
Arrow to records goes through ``msgspec.convert``, so a row is validated
exactly as a JSON line would be.

>>> from rempart.testing import make_event
>>> table = events_to_table([make_event()])
>>> table.schema.names == list(Event.__struct_fields__)
True
>>> next(table_to_events(table)) == make_event()
True
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import Any, Final, TypeVar

import msgspec
import pyarrow as pa

from rempart.events import Event
from rempart.evidence import CareEvidence
from rempart.ingestion.rejected import RAW_LIMIT, Rejected, rejected_from_error

__all__ = [
    "ARROW_BATCH",
    "ARROW_SCHEMAS",
    "EVENT_ARROW_SCHEMA",
    "EVIDENCE_ARROW_SCHEMA",
    "TABLE_SOURCE",
    "batch_to_records",
    "events_to_table",
    "records_to_batches",
    "records_to_table",
    "table_to_events",
    "table_to_records",
]

_RecordT = TypeVar("_RecordT", bound=msgspec.Struct)

ARROW_BATCH: Final = 65_536
"""Rows per Arrow record batch (and per Parquet row group) when Rempart builds them."""

TABLE_SOURCE: Final = "<arrow table>"
"""The ``source`` of an error located in an in-memory table."""

_TIME: Final = pa.timestamp("us", tz="UTC")

_EVENT_FIELDS: Final[list[pa.Field[Any]]] = [
    pa.field("time", _TIME, nullable=False),
    pa.field("event_id", pa.string(), nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("ip", pa.string(), nullable=False),
    pa.field("account", pa.string()),
    pa.field("session", pa.string()),
    pa.field("user_agent", pa.string(), nullable=False),
    pa.field("subject", pa.string()),
    pa.field("lookup", pa.string()),
    pa.field("categories", pa.list_(pa.string()), nullable=False),
    pa.field("outcome", pa.string(), nullable=False),
    pa.field("result_count", pa.int32()),
    pa.field("subject_department", pa.string()),
    pa.field("birth_date_match", pa.bool_()),
    pa.field("results", pa.list_(pa.string()), nullable=False),
]
EVENT_ARROW_SCHEMA: Final = pa.schema(_EVENT_FIELDS)
"""`rempart.events.Event` as Arrow columns."""

_EVIDENCE_FIELDS: Final[list[pa.Field[Any]]] = [
    pa.field("time", _TIME, nullable=False),
    pa.field("kind", pa.string(), nullable=False),
    pa.field("subject", pa.string(), nullable=False),
    pa.field("account", pa.string()),
    pa.field("site", pa.string()),
    pa.field("ended", _TIME),
]
EVIDENCE_ARROW_SCHEMA: Final = pa.schema(_EVIDENCE_FIELDS)
"""`rempart.evidence.CareEvidence` as Arrow columns."""

ARROW_SCHEMAS: Final[dict[type[msgspec.Struct], pa.Schema]] = {
    Event: EVENT_ARROW_SCHEMA,
    CareEvidence: EVIDENCE_ARROW_SCHEMA,
}
"""The record types that have a columnar (Arrow, Parquet) form."""


def arrow_schema_of(record_type: type[msgspec.Struct]) -> pa.Schema:
    """The Arrow schema of ``record_type``; `TypeError` if it has no columnar form."""
    try:
        return ARROW_SCHEMAS[record_type]
    except KeyError:
        names = ", ".join(sorted(t.__name__ for t in ARROW_SCHEMAS))
        raise TypeError(
            f"{record_type.__name__} has no Arrow schema (only {names}); use JSON Lines"
        ) from None


def records_to_batches(
    records: Iterable[_RecordT], record_type: type[_RecordT], *, batch_rows: int = ARROW_BATCH
) -> Iterator[pa.RecordBatch]:
    """Record batches of at most ``batch_rows`` rows in ``record_type``'s Arrow schema.

    Every record must be exactly a ``record_type`` (else `TypeError`).
    """
    schema = arrow_schema_of(record_type)
    iterator = iter(records)
    while chunk := list(islice(iterator, batch_rows)):
        for record in chunk:
            if type(record) is not record_type:
                raise TypeError(f"expected {record_type.__name__}, got {type(record).__name__}")
        columns = zip(*(msgspec.structs.astuple(record) for record in chunk), strict=True)
        arrays = [
            pa.array(values, type=field.type) for values, field in zip(columns, schema, strict=True)
        ]
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def records_to_table(records: Iterable[_RecordT], record_type: type[_RecordT]) -> pa.Table:
    """All ``records`` as one table in ``record_type``'s Arrow schema."""
    schema = arrow_schema_of(record_type)
    return pa.Table.from_batches(list(records_to_batches(records, record_type)), schema=schema)


def events_to_table(events: Iterable[Event]) -> pa.Table:
    """Events as a table in `EVENT_ARROW_SCHEMA`."""
    return records_to_table(events, Event)


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECONDS: Final = pa.int64()


def _rows(batch: pa.RecordBatch) -> list[dict[str, Any]]:
    """The batch's rows as dicts; aware timestamps become `datetime` in `datetime.UTC`.

    pyarrow builds aware datetimes through ``zoneinfo``, which costs more than
    the rest of a row; adding microseconds to the epoch is several times
    faster and gives the same tzinfo as a JSON line. Naive timestamps are left
    naive, so they fail validation exactly as in JSON.
    """
    arrays = list(batch.columns)
    aware: list[str] = []
    for index, column in enumerate(batch.schema):
        if isinstance(column.type, pa.TimestampType) and column.type.tz is not None:
            micros = arrays[index].cast(pa.timestamp("us", tz=column.type.tz))
            arrays[index] = micros.cast(_MICROSECONDS)
            aware.append(column.name)
    if not aware:
        return batch.to_pylist()
    rows = pa.RecordBatch.from_arrays(arrays, names=batch.schema.names).to_pylist()
    for row in rows:
        for name in aware:
            if (micros := row[name]) is not None:
                row[name] = _EPOCH + timedelta(microseconds=micros)
    return rows


def _row_text(row: dict[str, Any]) -> str:
    try:
        text = msgspec.json.encode(row).decode("utf-8")
    except (TypeError, msgspec.EncodeError):
        text = repr(row)
    return text[:RAW_LIMIT]


def batch_to_records(
    batch: pa.RecordBatch,
    record_type: type[_RecordT],
    rejected: list[Rejected],
    *,
    source: str,
    first_row: int,
) -> list[_RecordT]:
    """Validate each row of ``batch`` as a ``record_type``; append each bad row to ``rejected``.

    ``first_row`` is the 1-based row number of the batch's first row in its
    source; a rejected row's raw text is the row as JSON.
    """
    records: list[_RecordT] = []
    for offset, row in enumerate(_rows(batch)):
        try:
            records.append(msgspec.convert(row, record_type))
        except msgspec.ValidationError as error:
            rejected.append(
                rejected_from_error(
                    error, source=source, line=first_row + offset, raw=_row_text(row)
                )
            )
    return records


def table_to_records(
    table: pa.Table, record_type: type[_RecordT], *, batch_rows: int = ARROW_BATCH
) -> Iterator[_RecordT]:
    """Yield every row of ``table`` as a validated ``record_type``, in order.

    A row that does not validate raises `rempart.errors.RecordError` located
    at its 1-based row number (source `TABLE_SOURCE`): an in-memory table is
    built by a program (the simulator), so a bad row is a bug to stop at, not
    input to keep aside. Files go through `rempart.ingestion.read_records`.
    """
    row_number = 0
    for batch in table.to_batches(max_chunksize=batch_rows):
        for row in _rows(batch):
            row_number += 1
            try:
                record = msgspec.convert(row, record_type)
            except msgspec.ValidationError as error:
                # ``from None``: msgspec's own message may echo a value that redaction removed.
                located = rejected_from_error(error, source=TABLE_SOURCE, line=row_number, raw="")
                raise located.to_error() from None
            yield record


def table_to_events(table: pa.Table) -> Iterator[Event]:
    """Yield every row of an `EVENT_ARROW_SCHEMA` table as a validated `Event`."""
    return table_to_records(table, Event)
