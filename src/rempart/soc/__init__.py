"""Exports for a security operations centre: the guard's decisions as ECS, OCSF or syslog.

``rempart replay`` writes one `rempart.decision.Decision` per event, as JSON
Lines: the event id, the verdict, the actions, the reasons and the time. The
address, account and browser a SIEM wants are in the events the replay
read, so `export_decisions` reads both files side by side, in step and in
bounded memory, and hands each decision with its event to a format.

What counts as an alert is defined once, in `rempart.soc.alerts`: a decision
that is not an allow, or that carries an ``alert`` action.

The formats, one module each:

- `rempart.soc.ecs`: Elastic Common Schema 8.x documents, as JSON Lines;
- `rempart.soc.ocsf`: OCSF 1.4 events (the activity, and a Detection Finding
  for each alert), as JSON Lines;
- `rempart.soc.syslog`: RFC 5424 messages, one a line, or sent to a
  collector over UDP or TCP with `rempart.soc.syslog.SyslogSender`.

Formats are registered into a `FormatRegistry` you construct; the built-in
ones go through the same `FormatRegistry.register` as a third party's, in
`default_formats`.

>>> import io, pathlib, tempfile
>>> from rempart.decision import Decision, Verdict
>>> from rempart.ingestion import write_records
>>> from rempart.testing import make_event
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> event = make_event(event_id="ev1")
>>> write_records(folder / "events.jsonl", [event])
1
>>> write_records(folder / "decisions.jsonl",
...               [Decision(event_id="ev1", verdict=Verdict.DENY, time=event.time)])
1
>>> out = io.BytesIO()
>>> export_decisions(folder / "decisions.jsonl", "ecs", out, events=folder / "events.jsonl")
ExportSummary(decisions=1, records=1, unmatched=0, rejected=[])
>>> b'"user":{"name":"A00001"}' in out.getvalue()
True
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import BinaryIO, Final, Protocol, runtime_checkable

import msgspec

from rempart.decision import Decision
from rempart.errors import ConfigError, RecordError
from rempart.events import Event
from rempart.ingestion import Rejected, iter_records
from rempart.ingestion.rejected import redact
from rempart.progress import Progress, silent
from rempart.replay.replay import DEFAULT_REORDER_WINDOW
from rempart.soc.alerts import is_alert
from rempart.soc.ecs import EcsFormat, ecs_document
from rempart.soc.ocsf import OcsfFormat, ocsf_events
from rempart.soc.syslog import Facility, SyslogFormat, SyslogSender, Transport

__all__ = [
    "EcsFormat",
    "ExportFormat",
    "ExportSummary",
    "Facility",
    "FormatRegistry",
    "MessageSink",
    "OcsfFormat",
    "SyslogFormat",
    "SyslogSender",
    "Transport",
    "default_formats",
    "ecs_document",
    "export_decisions",
    "is_alert",
    "ocsf_events",
]

PENDING_MAX: Final = 100_000
"""Events held at most while looking for a decision's event, whatever the input."""


class ExportFormat(Protocol):
    """A way to write decisions for a SOC: a name and a pure rendering.

    ``render`` returns the records for one decision (one JSON document, one
    syslog message; OCSF gives two for an alert), each without a line end.
    ``event`` is None when the decided event is not known.
    """

    @property
    def name(self) -> str:
        """The name the format is asked for by (``ecs``, ``--format ecs``)."""
        ...

    def render(self, decision: Decision, event: Event | None) -> Iterable[bytes]:
        """The records of ``decision``."""
        ...


class FormatRegistry:
    """The export formats in use, by name, in registration order.

    >>> class Verdicts:
    ...     name = "verdicts"
    ...     def render(self, decision, event):
    ...         yield decision.verdict.value.encode()
    >>> formats = FormatRegistry()
    >>> formats.register(Verdicts())
    >>> formats.names(), formats["verdicts"].name
    (('verdicts',), 'verdicts')
    """

    def __init__(self) -> None:
        self._formats: dict[str, ExportFormat] = {}

    def register(self, export_format: ExportFormat) -> None:
        """Add ``export_format``; its name must be new."""
        if export_format.name in self._formats:
            raise ValueError(f"name: a format named {export_format.name!r} is already registered")
        self._formats[export_format.name] = export_format

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._formats)

    def __getitem__(self, name: str) -> ExportFormat:
        """The format called ``name``; `rempart.errors.ConfigError` naming the others if none."""
        try:
            return self._formats[name]
        except KeyError:
            raise ConfigError("format", f"one of {', '.join(self._formats)}", name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._formats

    def __iter__(self) -> Iterator[ExportFormat]:
        return iter(tuple(self._formats.values()))

    def __len__(self) -> int:
        return len(self._formats)


def default_formats() -> FormatRegistry:
    """A registry of the built-in formats: ``ecs``, ``ocsf`` and ``syslog`` (default options).

    >>> default_formats().names()
    ('ecs', 'ocsf', 'syslog')
    """
    formats = FormatRegistry()
    formats.register(EcsFormat())
    formats.register(OcsfFormat())
    formats.register(SyslogFormat())
    return formats


@runtime_checkable
class MessageSink(Protocol):
    """Where records go one message at a time (a `rempart.soc.syslog.SyslogSender`)."""

    def send(self, message: bytes) -> None:
        """Deliver one record."""
        ...


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export did: decisions read, records written, decisions without their event.

    ``unmatched`` counts the decisions whose event was not found in the
    events file (all of them when none was given); they are exported with
    what the decision alone says. ``rejected`` holds the bad lines of the
    decisions and events files, located.
    """

    decisions: int
    records: int
    unmatched: int
    rejected: list[Rejected] = field(default_factory=list)


def _utc(time: datetime | None) -> datetime | None:
    if time is None or time.tzinfo is not None:
        return time
    return time.replace(tzinfo=UTC)


def _paired(
    decisions: Iterable[Decision], events: Iterator[Event], window: timedelta
) -> Iterator[tuple[Decision, Event | None]]:
    """Each decision with its event from ``events`` (None if not found), in bounded memory.

    The replay writes its decisions in time order, having read the events
    through its reorder buffer: the event of a decision at time t comes, in
    the events file, before any event later than t + ``window``, and an event
    earlier than t - ``window`` is no later decision's. So the events are
    read ahead only that far, and those held are dropped once that old; at
    most `PENDING_MAX` are held whatever the input (a decision without a time
    reads ahead that far).
    """
    pending: dict[str, Event] = {}
    by_time: list[tuple[datetime, int, str]] = []
    serial = itertools.count()
    for decision in decisions:
        event = pending.pop(decision.event_id, None)
        when = _utc(decision.time)
        while event is None and len(pending) < PENDING_MAX:
            candidate = next(events, None)
            if candidate is None:
                break
            if candidate.event_id == decision.event_id:
                event = candidate
            elif candidate.event_id not in pending:  # an id seen twice: the first is kept
                pending[candidate.event_id] = candidate
                heapq.heappush(by_time, (candidate.time, next(serial), candidate.event_id))
            if when is not None and candidate.time > when + window:
                break
        horizon = when - window if when is not None else None
        while by_time and (
            len(pending) >= PENDING_MAX or (horizon is not None and by_time[0][0] < horizon)
        ):
            pending.pop(heapq.heappop(by_time)[2], None)
        if len(by_time) > 2 * PENDING_MAX:  # entries of events matched since: drop them
            by_time = [entry for entry in by_time if entry[2] in pending]
            heapq.heapify(by_time)
        yield decision, event


def _without_nir(event: Event | None) -> Event | None:
    """``event`` with any NIR-shaped number in its free text replaced by ``<redacted>``.

    The user agent (and, by a portal's mistake, the account or session) is whatever the
    client sent: a SIEM must never receive a patient's clear number from it.
    """
    if event is None:
        return None
    fields = {
        name: redact(value)
        for name in ("user_agent", "account", "session")
        if isinstance(value := getattr(event, name), str) and redact(value) != value
    }
    return msgspec.structs.replace(event, **fields) if fields else event


def export_decisions(
    records: str | os.PathLike[str],
    fmt: str | ExportFormat,
    out: BinaryIO | MessageSink,
    *,
    events: str | os.PathLike[str] | None = None,
    formats: FormatRegistry | None = None,
    reorder_window: float = DEFAULT_REORDER_WINDOW,
    progress: Progress = silent,
) -> ExportSummary:
    """Export the decisions file ``records`` (what ``rempart replay`` writes) in format ``fmt``.

    ``fmt`` is a format or the name of one in ``formats`` (default:
    `default_formats`). ``out`` is a binary stream, which gets one record a
    line, or a `MessageSink` such as a `rempart.soc.syslog.SyslogSender`,
    which gets one record per ``send``. ``events`` is the events file the
    replay read, for each decision's address, account and browser; it is
    read in step with the decisions, as far as ``reorder_window`` seconds
    (the replay's) ahead. Both files are streamed; ``progress`` hears how
    much of the decisions file is read. Bad lines in either file are
    collected in the summary's ``rejected``; a decision with neither a time
    nor an event raises `rempart.errors.RecordError` at its position among
    the good decisions (a replay dates them all).
    """
    if not (math.isfinite(reorder_window) and reorder_window >= 0):
        raise ConfigError("reorder_window", "a number of seconds, 0 or more", reorder_window)
    if isinstance(fmt, str):
        fmt = (formats if formats is not None else default_formats())[fmt]
    rejected: list[Rejected] = []
    decisions: Iterable[Decision] = iter_records(records, Decision, rejected, progress=progress)
    if events is None:
        pairs: Iterable[tuple[Decision, Event | None]] = ((d, None) for d in decisions)
    else:
        pairs = _paired(
            decisions,
            iter_records(events, Event, rejected),
            timedelta(seconds=reorder_window),
        )
    deliver: Callable[[bytes], object]
    if isinstance(out, MessageSink):
        deliver = out.send
    else:
        stream = out

        def deliver(record: bytes) -> None:
            stream.write(record + b"\n")

    count = written = unmatched = 0
    for count, (decision, event) in enumerate(pairs, 1):
        if event is None:
            unmatched += 1
            if decision.time is None:
                raise RecordError(
                    os.fspath(records),
                    count,
                    "$.time",
                    f"decision {decision.event_id!r} has no time, and no event to date it",
                )
        for record in fmt.render(decision, _without_nir(event)):
            deliver(record)
            written += 1
    return ExportSummary(decisions=count, records=written, unmatched=unmatched, rejected=rejected)
