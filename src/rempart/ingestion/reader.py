"""Reading record files: every good record kept, every bad one located and kept aside.

`iter_records` streams a file of any size; `read_records` collects it into a
`ReadResult`; `validate_file` also writes the rejects file. The format comes
from the suffix (`rempart.ingestion.formats`). A file that cannot be read at
all raises `rempart.errors.InputError`; a bad record never raises.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar, overload

import msgspec

from rempart.errors import InputError
from rempart.events import Event
from rempart.ingestion.formats import RecordFormat, format_of
from rempart.ingestion.jsonl import iter_jsonl
from rempart.ingestion.parquet import iter_parquet
from rempart.ingestion.rejected import Rejected
from rempart.ingestion.writer import write_rejects
from rempart.progress import Progress, silent

__all__ = ["ReadResult", "iter_records", "read_events", "read_records", "validate_file"]

RecordT = TypeVar("RecordT", bound=msgspec.Struct)


@dataclass(frozen=True, slots=True)
class ReadResult(Generic[RecordT]):
    """The records read from one source and the ones rejected, in file order."""

    records: list[RecordT] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    source: str = ""

    @property
    def ok_count(self) -> int:
        """Number of records that validated."""
        return len(self.records)

    @property
    def rejected_count(self) -> int:
        """Number of records that did not."""
        return len(self.rejected)


def iter_records(
    path: str | os.PathLike[str],
    record_type: type[RecordT],
    rejected: list[Rejected],
    *,
    progress: Progress = silent,
) -> Iterator[RecordT]:
    """Stream the valid records of ``path``; append each bad one to ``rejected`` as it goes.

    ``record_type`` is `rempart.events.Event`, `rempart.evidence.CareEvidence`,
    `rempart.directory.Site` or `rempart.directory.Account` (any msgspec
    struct works). ``progress`` (`rempart.progress`) hears how much of the
    file has been consumed, once per batch: rows of the row count for
    Parquet, bytes of the file size for JSON Lines. An unknown suffix or a
    missing file raises `rempart.errors.InputError` at once; a file that
    breaks part-way raises it during iteration.
    """
    record_format = format_of(path)
    source = os.fspath(path)
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{source}: no such file")
    if record_format is RecordFormat.PARQUET:
        return iter_parquet(file, record_type, rejected, source=source, progress=progress)
    return iter_jsonl(
        file,
        record_type,
        rejected,
        source=source,
        compressed=record_format is RecordFormat.JSONL_GZ,
        progress=progress,
    )


def read_records(
    path: str | os.PathLike[str], record_type: type[RecordT], *, progress: Progress = silent
) -> ReadResult[RecordT]:
    """Read a whole file into memory: its valid records and its rejected ones.

    >>> import pathlib, tempfile
    >>> from rempart.ingestion import write_records
    >>> from rempart.testing import make_event
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "events.jsonl"
    >>> write_records(path, [make_event(), make_event(event_id="ev2")])
    2
    >>> result = read_records(path, Event)
    >>> result.ok_count, result.rejected_count
    (2, 0)
    """
    rejected: list[Rejected] = []
    records = list(iter_records(path, record_type, rejected, progress=progress))
    return ReadResult(records=records, rejected=rejected, source=os.fspath(path))


def read_events(path: str | os.PathLike[str]) -> ReadResult[Event]:
    """`read_records` for portal events."""
    return read_records(path, Event)


@overload
def validate_file(
    path: str | os.PathLike[str],
    *,
    rejects_path: str | os.PathLike[str] | None = None,
    progress: Progress = silent,
) -> ReadResult[Event]: ...


@overload
def validate_file(
    path: str | os.PathLike[str],
    record_type: type[RecordT],
    rejects_path: str | os.PathLike[str] | None = None,
    *,
    progress: Progress = silent,
) -> ReadResult[RecordT]: ...


def validate_file(
    path: str | os.PathLike[str],
    record_type: type[msgspec.Struct] = Event,
    rejects_path: str | os.PathLike[str] | None = None,
    *,
    progress: Progress = silent,
) -> ReadResult[Any]:
    """Read ``path`` as ``record_type`` and, given ``rejects_path``, write the rejects there.

    The rejects file is written even when nothing was rejected (an empty file
    says the check ran). ``progress`` is as for `iter_records`. What
    ``rempart validate`` does.
    """
    result = read_records(path, record_type, progress=progress)
    if rejects_path is not None:
        write_rejects(rejects_path, result.rejected)
    return result
