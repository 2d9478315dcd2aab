"""The ingestion plane: reading and writing events, evidence and the directory, losing nothing.

Record files are JSON Lines (``.jsonl``, ``.jsonl.gz``) or Parquet
(``.parquet``, events and evidence), chosen by suffix. Readers validate every
record against the msgspec types of `rempart.events`, `rempart.evidence` and
`rempart.directory`; a bad record becomes a `Rejected` located by line (or
row) and JSON path, counted and kept aside for the rejects file, while every
good record is kept. Writers are byte-deterministic and atomic.

>>> import pathlib, tempfile
>>> from rempart.testing import make_event
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_records(folder / "events.parquet", [make_event()])
1
>>> result = read_events(folder / "events.parquet")
>>> result.records == [make_event()], result.rejected
(True, [])

Modules: `rejected` (located bad records), `formats` (suffixes), `jsonl`,
`parquet`, `arrow_schema` (the canonical columns), `reader`, `writer`,
`atomic` (files replaced only once complete).
"""

from rempart.ingestion.arrow_schema import (
    ARROW_SCHEMAS,
    EVENT_ARROW_SCHEMA,
    EVIDENCE_ARROW_SCHEMA,
    events_to_table,
    records_to_table,
    table_to_events,
    table_to_records,
)
from rempart.ingestion.formats import RecordFormat, format_of
from rempart.ingestion.reader import (
    ReadResult,
    iter_records,
    read_events,
    read_records,
    validate_file,
)
from rempart.ingestion.rejected import RAW_LIMIT, Rejected
from rempart.ingestion.writer import write_event_table, write_records, write_rejects

__all__ = [
    "ARROW_SCHEMAS",
    "EVENT_ARROW_SCHEMA",
    "EVIDENCE_ARROW_SCHEMA",
    "RAW_LIMIT",
    "ReadResult",
    "RecordFormat",
    "Rejected",
    "events_to_table",
    "format_of",
    "iter_records",
    "read_events",
    "read_records",
    "records_to_table",
    "table_to_events",
    "table_to_records",
    "validate_file",
    "write_event_table",
    "write_records",
    "write_rejects",
]
