"""The seam every log parser plugs into: located lines in, events or located rejects out.

A `LogParser` turns the lines of one source (an nginx access log, a FHIR
AuditEvent export, a CSV extract) into portal `Event` records. It never
raises on bad input: each line gives an `Event`, a `Rejected` (located by
source and 1-based line, kept for the rejects file) or a `Skipped` (a line
understood but not a portal action, such as a request for a style sheet,
counted and dropped). Parsers are built by name from a `ParserRegistry`,
which the built-in formats join the same way a third party's would
(`rempart.ingestion.logs.default_parsers`).

What a parser is given is `ParserOptions`: the `Pseudonymizer` that turns a
clear NIR met in a raw log into its keyed pseudonym at once (the clear number
is written nowhere, not even in a rejects file's message), and the
format-specific configuration (a route table, a column mapping).

Event identifiers of raw lines are derived from the line itself
(`LineIds`), so that ingesting the same lines twice yields the same events,
which the archive then stores once.

>>> registry = ParserRegistry()
>>> class Upper:
...     name = "upper"
...     def parse(self, lines):
...         for line in lines:
...             yield Skipped(line.source, line.line, "nothing to see")
>>> registry.register("upper", "demonstration format", lambda options: Upper())
>>> parser = registry.create("upper", ParserOptions())
>>> [s.reason for s in parser.parse([LogLine("a.log", 1, "x")])]
['nothing to see']
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from rempart.errors import ConfigError, InputError
from rempart.events import Event
from rempart.ingestion.rejected import RAW_LIMIT, Rejected, redact
from rempart.progress import Progress, silent
from rempart.pseudonym import Pseudonymizer

__all__ = [
    "LINE_LIMIT",
    "LineIds",
    "LogLine",
    "LogParser",
    "ParsedLine",
    "ParserFactory",
    "ParserOptions",
    "ParserRegistry",
    "Skipped",
    "iter_log_lines",
    "reject",
]

LINE_LIMIT: Final = 64 * 1024
"""Bytes of one log line read at most; a longer line is rejected, never held whole."""

_READ_CHUNK: Final = 1 << 20
_PROGRESS_LINES: Final = 1024


@dataclass(frozen=True, slots=True)
class LogLine:
    """One line of a source: where it is (``source``, 1-based ``line``) and its text."""

    source: str
    line: int
    text: str


@dataclass(frozen=True, slots=True)
class Skipped:
    """A line understood and deliberately not turned into an event (counted, not kept)."""

    source: str
    line: int
    reason: str


ParsedLine = Event | Rejected | Skipped


@dataclass(frozen=True, slots=True)
class ParserOptions:
    """What a parser is built with.

    ``pseudonymizer`` pseudonymises clear NIRs met in raw logs (``None``: a
    clear NIR makes the line a reject, since it cannot be stored). ``config``
    is the format's own configuration, already loaded (a route table for the
    access logs, a column mapping for CSV); ``config_path`` names where it came
    from, for error messages.
    """

    pseudonymizer: Pseudonymizer | None = None
    config: Any = None
    config_path: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class LogParser(Protocol):
    """Turns a source's lines into events, rejects and skips, in order, never raising on them.

    ``parse`` may be handed the lines of several files in turn (a rotated log);
    a parser that needs several lines for one record (a pretty-printed FHIR
    Bundle) bounds what it buffers and rejects what exceeds it.
    """

    name: str

    def parse(self, lines: Iterable[LogLine]) -> Iterator[ParsedLine]:
        """The outcome of each line, in order (several for a line holding several records)."""
        ...


ParserFactory = Callable[[ParserOptions], LogParser]


@dataclass(frozen=True, slots=True)
class _Entry:
    description: str
    factory: ParserFactory


class ParserRegistry:
    """Log formats by name (the ``--format`` of ``rempart ingest``): construct one, register."""

    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    def register(self, name: str, description: str, factory: ParserFactory) -> None:
        """Add a format; a name already taken is a `ConfigError`."""
        if name in self._entries:
            raise ConfigError("format", "a name not yet registered", name)
        self._entries[name] = _Entry(description, factory)

    def create(self, name: str, options: ParserOptions) -> LogParser:
        """A parser of format ``name``; an unknown name is a `ConfigError` listing the known."""
        entry = self._entries.get(name)
        if entry is None:
            raise ConfigError("format", f"one of {', '.join(sorted(self._entries))}", name)
        return entry.factory(options)

    def describe(self) -> dict[str, str]:
        """Each format's one-line description, by name."""
        return {name: entry.description for name, entry in sorted(self._entries.items())}

    def __contains__(self, name: object) -> bool:
        return name in self._entries


def reject(line: LogLine, message: str, field_path: str | None = None) -> Rejected:
    """A `Rejected` for ``line``: the message redacted of NIR-shaped numbers, the raw text cut."""
    return Rejected(line.source, line.line, field_path, redact(message), line.text[:RAW_LIMIT])


class LineIds:
    """Event identifiers for raw log lines: the same line always gets the same identifier.

    An identifier is ``lg_`` and 32 hex digits of BLAKE2b over the line's text
    and its rank among identical lines of the same moment (two identical lines
    within one second are two requests). ``moment`` is the line's timestamp as
    written; only the current moment's counts are kept, so memory stays
    bounded on a time-ordered log.

    >>> ids = LineIds()
    >>> a = ids.next("12:00:01", "GET /x")
    >>> b = ids.next("12:00:01", "GET /x")
    >>> a != b, a == LineIds().next("12:00:01", "GET /x"), a[:3]
    (True, True, 'lg_')
    """

    __slots__ = ("_counts", "_moment")

    def __init__(self) -> None:
        self._moment = ""
        self._counts: dict[str, int] = {}

    def next(self, moment: str, text: str) -> str:
        """The identifier of the next line ``text`` stamped ``moment``."""
        if moment != self._moment:
            self._moment = moment
            self._counts = {}
        rank = self._counts.get(text, 0)
        self._counts[text] = rank + 1
        digest = hashlib.blake2b(f"{rank}\x00{text}".encode(), digest_size=16).hexdigest()
        return f"lg_{digest}"


def iter_log_lines(
    path: str | os.PathLike[str],
    rejected: list[Rejected],
    *,
    progress: Progress = silent,
    source: str | None = None,
) -> Iterator[LogLine]:
    """Stream the lines of a text log (plain or gzip), each with its 1-based number.

    Lines are decoded as UTF-8; a line that is not, or that is longer than
    `LINE_LIMIT` bytes, is appended to ``rejected`` (located) instead of being
    yielded, and reading goes on. Blank lines are passed over. ``progress``
    hears bytes of the compressed file consumed, once per megabyte. A missing
    file raises `InputError`.
    """
    file = Path(path)
    name = source if source is not None else os.fspath(path)
    if not file.is_file():
        raise InputError(f"{name}: no such file")
    total = file.stat().st_size
    with file.open("rb") as raw:
        # gzip by its magic bytes, whatever the name says (a rotated access.log.2.gz).
        compressed = raw.peek(2)[:2] == b"\x1f\x8b"
        stream: io.BufferedIOBase = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
        number = 0
        reported = 0
        while True:
            chunk = stream.readline(LINE_LIMIT + 1)
            if not chunk:
                break
            number += 1
            if len(chunk) > LINE_LIMIT and not chunk.endswith(b"\n"):
                while chunk and not chunk.endswith(b"\n"):  # skip the rest, bounded reads
                    chunk = stream.readline(LINE_LIMIT)
                rejected.append(
                    Rejected(name, number, None, f"line longer than {LINE_LIMIT} bytes", "")
                )
                continue
            try:
                text = chunk.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as error:
                raw_text = chunk[: 4 * RAW_LIMIT].decode("utf-8", "replace")
                rejected.append(
                    Rejected(name, number, None, f"invalid UTF-8: {error.reason}", raw_text)
                )
                continue
            if text.strip():
                yield LogLine(name, number, text)
            # tell() costs as much as parsing a line: ask where we are every so many lines.
            if number % _PROGRESS_LINES == 0:
                position = raw.tell()
                if position - reported >= _READ_CHUNK:
                    reported = position
                    progress(position, total)
    progress(total, total)
