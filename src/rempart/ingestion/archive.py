"""The event archive: Parquet files partitioned by day, each event stored once.

Layout (Hive style, read as one table by DuckDB, Spark or pyarrow)::

    ARCHIVE/day=2022-02-14/part-3f9c0a1e5b7d2c84.parquet
    ARCHIVE/day=2022-02-15/part-...

A part holds the events of one day (UTC), in `EVENT_ARROW_SCHEMA`, sorted by
time. Events are identified by ``event_id``: adding an event whose identifier
the day already holds adds nothing, so ingesting the same file twice, or two
rotated logs that overlap, stores every event once. Events are buffered up to
``buffer_rows`` and written day by day; memory is bounded by the buffer and
one day's identifiers. Part names are a digest of their identifiers, so the
same events always give the same file, and each part appears atomically.

>>> import pathlib, tempfile
>>> from rempart.testing import make_event
>>> archive = EventArchive(pathlib.Path(tempfile.mkdtemp()) / "archive")
>>> archive.add([make_event(event_id="e1"), make_event(event_id="e2")])
AddResult(added=2, duplicates=0)
>>> archive.add([make_event(event_id="e2"), make_event(event_id="e3")])
AddResult(added=1, duplicates=1)
>>> archive.count(), archive.days()
(3, ['2022-03-01'])
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from rempart.errors import InputError
from rempart.events import Event
from rempart.ingestion.arrow_schema import ARROW_BATCH, EVENT_ARROW_SCHEMA, events_to_table
from rempart.ingestion.atomic import atomic_output
from rempart.ingestion.parquet import parquet_writer

__all__ = ["AddResult", "EventArchive"]

BUFFER_ROWS: Final = 200_000
"""Events held before they are written: about 100 MB at most."""

_DAY_PREFIX: Final = "day="


@dataclass(frozen=True, slots=True)
class AddResult:
    """Events newly stored, and events the archive already held (or that repeated)."""

    added: int
    duplicates: int

    def __add__(self, other: AddResult) -> AddResult:
        return AddResult(self.added + other.added, self.duplicates + other.duplicates)


class EventArchive:
    """A day-partitioned Parquet archive of events under ``root`` (created when first written).

    ``add`` stores events (any order, any days) and returns what it added;
    ``pattern`` is the glob that DuckDB or Spark read the whole archive with.
    """

    def __init__(self, root: Path, *, buffer_rows: int = BUFFER_ROWS) -> None:
        if root.exists() and not root.is_dir():
            raise InputError(f"{root}: the archive must be a directory")
        self.root = root
        self._buffer_rows = buffer_rows

    @property
    def pattern(self) -> str:
        """The glob of every part, e.g. for ``read_parquet(..., hive_partitioning=true)``."""
        return str(self.root / f"{_DAY_PREFIX}*" / "*.parquet")

    def days(self) -> list[str]:
        """The days (``YYYY-MM-DD``, UTC) holding events, in order."""
        if not self.root.is_dir():
            return []
        return sorted(
            d.name.removeprefix(_DAY_PREFIX)
            for d in self.root.iterdir()
            if d.is_dir() and d.name.startswith(_DAY_PREFIX) and any(d.glob("*.parquet"))
        )

    def parts(self) -> list[Path]:
        """Every part file, in day order."""
        return sorted(self.root.glob(f"{_DAY_PREFIX}*/*.parquet"))

    def count(self) -> int:
        """Events stored."""
        return sum(pq.ParquetFile(part).metadata.num_rows for part in self.parts())

    def add(self, events: Iterable[Event]) -> AddResult:
        """Store ``events``, each once; returns how many were new and how many were not."""
        result = AddResult(0, 0)
        buffer: dict[str, list[Event]] = defaultdict(list)
        held = 0
        for event in events:
            buffer[event.time.astimezone(UTC).date().isoformat()].append(event)
            held += 1
            if held >= self._buffer_rows:
                result += self._flush(buffer)
                buffer.clear()
                held = 0
        return result + self._flush(buffer)

    def _flush(self, buffer: dict[str, list[Event]]) -> AddResult:
        result = AddResult(0, 0)
        for day, events in sorted(buffer.items()):
            result += self._write_day(day, events)
        return result

    def _stored_ids(self, folder: Path) -> set[str]:
        ids: set[str] = set()
        for part in sorted(folder.glob("*.parquet")):
            column = pq.read_table(part, columns=["event_id"]).column("event_id")
            ids.update(str(event_id) for event_id in column.to_pylist())
        return ids

    def _write_day(self, day: str, events: list[Event]) -> AddResult:
        folder = self.root / f"{_DAY_PREFIX}{day}"
        stored = self._stored_ids(folder) if folder.is_dir() else set()
        fresh: list[Event] = []
        for event in events:
            if event.event_id not in stored:
                stored.add(event.event_id)
                fresh.append(event)
        duplicates = len(events) - len(fresh)
        if not fresh:
            return AddResult(0, duplicates)
        table = events_to_table(fresh)
        order = pc.sort_indices(table, sort_keys=[("time", "ascending"), ("event_id", "ascending")])
        table = table.take(order)
        digest = hashlib.blake2b(digest_size=8)
        for event_id in table.column("event_id").to_pylist():
            digest.update(str(event_id).encode())
            digest.update(b"\x00")
        folder.mkdir(parents=True, exist_ok=True)
        _write_part(folder / f"part-{digest.hexdigest()}.parquet", table)
        return AddResult(len(fresh), duplicates)


def _write_part(path: Path, table: pa.Table) -> None:
    with atomic_output(path) as output, parquet_writer(output, EVENT_ARROW_SCHEMA) as writer:
        writer.write_table(table, row_group_size=ARROW_BATCH)
