"""``rempart replay``: one decision per event, from any event file and its evidence.

Events and evidence are merged by time: evidence at or before an event's time
is observed first, as the online guard would have received it. Without
ground truth nobody answers a challenge, so a challenge stays a challenge.

The replay streams, so it needs its input in time order. Logs are rarely
exactly sorted (a request is logged when it ends, several writers share a
file), so each stream goes through a bounded reorder buffer: a record may
come up to ``reorder_window`` seconds of event time older than the newest
record before it and still take its place, and the decisions are those of
the sorted input (ties keep file order). A record older than that (the
watermark) is refused with a `RecordError` naming the source, the record's
position, its event id and time, and how to sort the input. Nothing is
replayed out of order silently.

>>> from datetime import timedelta
>>> from rempart.replay.baselines import NoDefence
>>> from rempart.testing import make_event
>>> first = make_event(event_id="ev1")
>>> second = make_event(event_id="ev2", time=first.time + timedelta(seconds=3))
>>> [d.event_id for d in replay([second, first], [], NoDefence())]
['ev1', 'ev2']
>>> late = make_event(event_id="ev3", time=first.time - timedelta(minutes=5))
>>> list(replay([first, second, late], [], NoDefence(), events_source="events.jsonl"))
... # doctest: +ELLIPSIS
Traceback (most recent call last):
  ...
rempart.errors.RecordError: events.jsonl:3: $.time: event ev3 at 2022-03-01T08:55:00Z is ...
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from typing import Final, Protocol, TypeVar

from rempart.decision import Decision
from rempart.errors import ConfigError, RecordError
from rempart.events import Event
from rempart.evidence import CareEvidence
from rempart.replay.baselines import Defence

__all__ = ["DEFAULT_REORDER_WINDOW", "in_time_order", "replay"]

DEFAULT_REORDER_WINDOW: Final = 5.0
"""Seconds of event time a record may arrive after a later one and still be replayed in order."""


class _Timed(Protocol):
    @property
    def time(self) -> datetime: ...


_R = TypeVar("_R", bound=_Timed)


def _stamp(time: datetime) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ")


def in_time_order(
    records: Iterable[_R],
    reorder_window: float,
    *,
    source: str,
    describe: Callable[[_R], str],
) -> Iterator[_R]:
    """``records`` in time order (ties in their order), through a bounded reorder buffer.

    The watermark is the newest time seen so far less ``reorder_window``
    seconds: a record is held until the watermark passes it (or the input
    ends), so the buffer holds at most that much event time, and a record
    older than the watermark raises `RecordError`, located at ``source`` and
    the record's 1-based position in ``records`` (its line or row when no
    record before it was rejected) and worded with ``describe(record)``.
    Whether a record is refused depends only on the records before it.
    """
    window = timedelta(seconds=reorder_window)
    held: list[tuple[datetime, int, _R]] = []
    newest: datetime | None = None
    for position, record in enumerate(records, 1):
        time = record.time
        if newest is None or time > newest:
            newest = time
        elif time < newest - window:
            raise _too_late(record, position, newest, reorder_window, source, describe)
        heapq.heappush(held, (time, position, record))
        watermark = newest - window
        while held and held[0][0] <= watermark:
            yield heapq.heappop(held)[2]
    while held:
        _, _, ready = heapq.heappop(held)
        yield ready


def _sort_hint(source: str) -> str:
    """A DuckDB command that sorts ``source`` by time into a file the replay reads.

    Parquet sorts as a table. JSON Lines sorts line by line, untouched: read
    as a table, the fields a line omits would come back as nulls.
    """
    if source.endswith(".parquet"):
        return f"COPY (FROM '{source}' ORDER BY time) TO 'sorted.parquet'"
    return (
        f"COPY (FROM read_csv('{source}', columns = {{'line': 'VARCHAR'}}, header = false, "
        "delim = '\\t', quote = '', escape = '') ORDER BY CAST(line->>'time' AS TIMESTAMPTZ)) "
        "TO 'sorted.jsonl' (FORMAT CSV, HEADER false, DELIM '\\t', QUOTE '', ESCAPE '')"
    )


def _too_late(
    record: _R,
    position: int,
    newest: datetime,
    reorder_window: float,
    source: str,
    describe: Callable[[_R], str],
) -> RecordError:
    late = (newest - record.time).total_seconds()
    return RecordError(
        source,
        position,
        "$.time",
        f"{describe(record)} at {_stamp(record.time)} is {late:g} s older than a record "
        f"before it ({_stamp(newest)}), beyond the {reorder_window:g} s reorder "
        f"window: the input must be sorted by time, e.g. with DuckDB: {_sort_hint(source)} "
        "(or replay it with a wider reorder window)",
    )


def replay(
    events: Iterable[Event],
    evidence: Iterable[CareEvidence],
    defence: Defence,
    *,
    reorder_window: float = DEFAULT_REORDER_WINDOW,
    events_source: str = "events",
    evidence_source: str = "evidence",
) -> Iterator[Decision]:
    """Decide every event in time order, observing the evidence that precedes it.

    ``reorder_window`` (seconds, 0 for input that must already be sorted)
    bounds how far each stream may be out of order; ``events_source`` and
    ``evidence_source`` name the streams in the error that refuses a record
    beyond it.
    """
    if not (math.isfinite(reorder_window) and reorder_window >= 0):
        raise ConfigError("reorder_window", "a number of seconds, 0 or more", reorder_window)
    return _merged(events, evidence, defence, reorder_window, events_source, evidence_source)


def _merged(
    events: Iterable[Event],
    evidence: Iterable[CareEvidence],
    defence: Defence,
    reorder_window: float,
    events_source: str,
    evidence_source: str,
) -> Iterator[Decision]:
    pending = in_time_order(
        evidence,
        reorder_window,
        source=evidence_source,
        describe=lambda piece: f"{piece.kind.value} evidence",
    )
    upcoming = next(pending, None)
    for event in in_time_order(
        events,
        reorder_window,
        source=events_source,
        describe=lambda event: f"event {event.event_id}",
    ):
        while upcoming is not None and upcoming.time <= event.time:
            defence.observe(upcoming)
            upcoming = next(pending, None)
        yield defence.decide(event)
