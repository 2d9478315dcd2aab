"""Writing record files: JSON Lines or Parquet by suffix, byte-deterministic, replaced atomically.

The same records (or the same table) always give the same bytes: JSON text
is msgspec's, gzip carries no name or time, Parquet options are fixed and no
time goes into the metadata. A file appears under its name only once it is
complete.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from itertools import chain

import msgspec
import pyarrow as pa

from rempart.errors import InputError
from rempart.ingestion.arrow_schema import (
    ARROW_BATCH,
    EVENT_ARROW_SCHEMA,
    arrow_schema_of,
    records_to_batches,
    table_to_events,
)
from rempart.ingestion.atomic import atomic_output
from rempart.ingestion.formats import RecordFormat, format_of
from rempart.ingestion.jsonl import write_lines
from rempart.ingestion.parquet import parquet_writer
from rempart.ingestion.rejected import Rejected

__all__ = ["write_event_table", "write_records", "write_rejects"]


def write_records(
    path: str | os.PathLike[str],
    records: Iterable[msgspec.Struct],
    *,
    record_type: type[msgspec.Struct] | None = None,
) -> int:
    """Write ``records`` to ``path`` (``.jsonl``, ``.jsonl.gz`` or ``.parquet``); returns the count.

    JSON Lines takes any records, each line exactly
    ``msgspec.json.encode(record)``. Parquet takes events or care evidence
    (`rempart.ingestion.arrow_schema.ARROW_SCHEMAS`), all of one type: that
    of the first record, or ``record_type`` (needed to write an empty
    Parquet file). Records are written as given: they were validated when
    built, and `read_records` validates them again on the way back.
    """
    record_format = format_of(path)
    if record_format is not RecordFormat.PARQUET:
        with atomic_output(path) as output:
            return write_lines(output, records, compress=record_format is RecordFormat.JSONL_GZ)
    iterator = iter(records)
    if record_type is None:
        first = next(iterator, None)
        if first is None:
            raise TypeError("cannot tell the Parquet schema of no records: pass record_type")
        record_type = type(first)
        iterator = chain([first], iterator)
    schema = arrow_schema_of(record_type)
    count = 0
    with atomic_output(path) as output, parquet_writer(output, schema) as writer:
        for batch in records_to_batches(iterator, record_type):
            writer.write_batch(batch)
            count += batch.num_rows
    return count


def _canonical_event_table(table: pa.Table) -> pa.Table:
    if table.schema.equals(EVENT_ARROW_SCHEMA):
        return table
    if table.schema.names != EVENT_ARROW_SCHEMA.names:
        raise InputError(
            f"event table columns {table.schema.names} differ from "
            f"EVENT_ARROW_SCHEMA's {EVENT_ARROW_SCHEMA.names}"
        )
    try:
        # Dictionary-encoded strings, another name for the list item, a nullable
        # declaration: all cast losslessly to the canonical schema.
        return table.cast(EVENT_ARROW_SCHEMA)
    except (ValueError, pa.ArrowException) as error:
        raise InputError(f"event table does not fit EVENT_ARROW_SCHEMA: {error}") from None


def write_event_table(
    path: str | os.PathLike[str], table: pa.Table, *, validate: bool = True
) -> int:
    """Write a table in `EVENT_ARROW_SCHEMA` to ``.parquet``, ``.jsonl`` or ``.jsonl.gz``.

    JSON Lines goes through `Event` objects, so each line is exactly
    ``msgspec.json.encode(event)`` and every row is validated. Parquet writes
    the columns as they are, after validating every row unless ``validate``
    is false (the caller vouches for the table). A bad row raises
    `rempart.errors.RecordError` with its row number and nothing is written;
    columns that do not fit the schema raise `rempart.errors.InputError`.
    Returns the number of events written.
    """
    record_format = format_of(path)
    table = _canonical_event_table(table)
    if record_format is not RecordFormat.PARQUET:
        with atomic_output(path) as output:
            return write_lines(
                output, table_to_events(table), compress=record_format is RecordFormat.JSONL_GZ
            )
    if validate:
        for _ in table_to_events(table):
            pass
    with atomic_output(path) as output, parquet_writer(output, EVENT_ARROW_SCHEMA) as writer:
        writer.write_table(table, row_group_size=ARROW_BATCH)
    return table.num_rows


def write_rejects(path: str | os.PathLike[str], rejected: Iterable[Rejected]) -> int:
    """Write rejected records as JSON Lines (``source, line, field, message, raw``).

    The file holds raw input, which may contain clear personal data, so it is
    created readable by its owner only. A ``.gz`` suffix compresses it.
    Returns the number of records written.
    """
    with atomic_output(path, private=True) as output:
        return write_lines(output, rejected, compress=os.fspath(path).lower().endswith(".gz"))
