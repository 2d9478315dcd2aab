"""``rempart ingest``: the logs a portal already has, into the day-partitioned event archive.

Sources are read one after the other, streamed (a file larger than memory,
gzip or not), parsed by the format's `LogParser` (or, for ``rempart``,
Rempart's own JSON Lines and Parquet readers), and added to an
`EventArchive`, each event once. Nothing is lost: every bad line goes to the
rejects file as it is met, located by source and line, and is counted;
lines understood but not portal actions (a style sheet, a health check) are
counted as skipped. A clear NIR met in a raw log is pseudonymised by the
parser with the configured key and written nowhere else; the rejects file,
which keeps raw lines, is created readable by its owner only.

>>> import pathlib, tempfile
>>> from rempart.ingestion import write_records
>>> from rempart.testing import make_event
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = write_records(folder / "events.jsonl", [make_event(event_id="e1")])
>>> archive = EventArchive(folder / "archive")
>>> ingest([folder / "events.jsonl"], "rempart", archive).added
1
>>> ingest([folder / "events.jsonl"], "rempart", archive).duplicates
1
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Final

import msgspec

from rempart.errors import InputError
from rempart.events import Event
from rempart.ingestion.archive import AddResult, EventArchive
from rempart.ingestion.atomic import atomic_output
from rempart.ingestion.logs import (
    LogParser,
    ParserOptions,
    ParserRegistry,
    Skipped,
    default_parsers,
    iter_log_lines,
)
from rempart.ingestion.reader import iter_records
from rempart.ingestion.rejected import Rejected
from rempart.progress import Progress, silent

__all__ = ["OWN_FORMAT", "IngestReport", "RejectsSink", "ingest"]

OWN_FORMAT: Final = "rempart"
"""The format name of Rempart's own event files (``.jsonl``, ``.jsonl.gz``, ``.parquet``)."""

_SAMPLE: Final = 5


@dataclass
class IngestReport:
    """What one ingestion did: counts over all sources, and the first few rejects (located)."""

    sources: int = 0
    events: int = 0
    added: int = 0
    duplicates: int = 0
    rejected: int = 0
    skipped: int = 0
    first_rejects: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        """Plain JSON-ready figures."""
        return {
            "sources": self.sources,
            "events": self.events,
            "added": self.added,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "skipped": self.skipped,
            "first_rejects": list(self.first_rejects),
        }


class RejectsSink:
    """Writes rejected lines to a JSON Lines file as they come (owner-readable only).

    The file appears complete when the sink is closed, even if nothing was
    rejected (an empty file says the check ran). Without a path, rejects are
    only counted.
    """

    def __init__(self, path: str | os.PathLike[str] | None, report: IngestReport) -> None:
        self._report = report
        self._stack = ExitStack()
        self._output: BinaryIO | None = None
        if path is not None:
            self._output = self._stack.enter_context(atomic_output(path, private=True))
        self._encoder = msgspec.json.Encoder()

    def add(self, rejected: Rejected) -> None:
        """Count one reject and keep it aside."""
        self._report.rejected += 1
        if len(self._report.first_rejects) < _SAMPLE:
            self._report.first_rejects.append(str(rejected.to_error()))
        if self._output is not None:
            self._output.write(self._encoder.encode(rejected) + b"\n")

    def drain(self, pending: list[Rejected]) -> None:
        """Move the rejects a reader has collected so far into the sink."""
        for rejected in pending:
            self.add(rejected)
        pending.clear()

    def close(self) -> None:
        """Finish the file."""
        self._stack.close()

    def __enter__(self) -> RejectsSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ingest(
    sources: Sequence[str | os.PathLike[str]],
    fmt: str,
    archive: EventArchive,
    *,
    options: ParserOptions | None = None,
    registry: ParserRegistry | None = None,
    rejects: str | os.PathLike[str] | None = None,
    progress: Progress = silent,
) -> IngestReport:
    """Parse ``sources`` in format ``fmt`` and add their events to ``archive``.

    ``fmt`` is `OWN_FORMAT` or a name in ``registry`` (default:
    `default_parsers`), built with ``options``. ``rejects`` names the rejects
    file. ``progress`` hears bytes (rows for Parquet) of each source in turn.
    An unknown format or a missing route table is a `rempart.errors.ConfigError`;
    a missing source an `rempart.errors.InputError`, raised before anything is read.
    """
    for source in sources:
        if not Path(source).is_file():
            raise InputError(f"{os.fspath(source)}: no such file")
    parser: LogParser | None = None
    if fmt != OWN_FORMAT:
        parser = (registry or default_parsers()).create(fmt, options or ParserOptions())
    report = IngestReport(sources=len(sources))
    with RejectsSink(rejects, report) as sink:
        events = _events(sources, parser, sink, report, progress)
        result: AddResult = archive.add(events)
    report.added, report.duplicates = result.added, result.duplicates
    return report


def _events(
    sources: Sequence[str | os.PathLike[str]],
    parser: LogParser | None,
    sink: RejectsSink,
    report: IngestReport,
    progress: Progress,
) -> Iterator[Event]:
    pending: list[Rejected] = []
    grand_total = sum(Path(source).stat().st_size for source in sources)
    offset = 0
    for source in sources:
        if parser is None:
            for event in iter_records(source, Event, pending, progress=progress):
                sink.drain(pending)
                report.events += 1
                yield event
            sink.drain(pending)
            continue

        def overall(done: int, total: int, step: str = "", base: int = offset) -> None:
            progress(base + done, grand_total, step)

        lines = iter_log_lines(source, pending, progress=overall)
        for outcome in parser.parse(lines):
            sink.drain(pending)
            if isinstance(outcome, Event):
                report.events += 1
                yield outcome
            elif isinstance(outcome, Skipped):
                report.skipped += 1
            else:
                sink.add(outcome)
        sink.drain(pending)
        offset += Path(source).stat().st_size
