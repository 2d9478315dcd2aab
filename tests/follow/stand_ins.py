"""What the follow tests plug in: a JSON-lines parser, recording detector and enforcer, a clock."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec

from rempart.decision import Action, ActionKind, Reason, Verdict
from rempart.detectors.base import Finding
from rempart.detectors.context import EventContext
from rempart.events import Event
from rempart.guard import Guard, Knowledge
from rempart.ingestion.logs.base import LogLine, ParsedLine, Skipped
from rempart.ingestion.rejected import rejected_from_error
from rempart.response.record import ActionRecord
from rempart.testing import make_event

T0 = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)
THIEF = "T"
"""Accounts whose name starts so are thieves' to the `Recorder`."""


class Crash(BaseException):
    """The process dying at this point (no ``except Exception`` catches it)."""


class EventLines:
    """A stand-in log format: one Rempart event as JSON per line; ``#`` lines are skipped."""

    name = "events"

    def __init__(self) -> None:
        self._decoder = msgspec.json.Decoder(Event)

    def parse(self, lines: Iterable[LogLine]) -> Iterator[ParsedLine]:
        """Each line's event, reject or skip, in order, one line at a time."""
        for line in lines:
            if line.text.startswith("#"):
                yield Skipped(line.source, line.line, "comment")
                continue
            try:
                yield self._decoder.decode(line.text)
            except (msgspec.DecodeError, UnicodeDecodeError) as error:
                yield rejected_from_error(error, source=line.source, line=line.line, raw=line.text)


def event_line(number: int, **fields: Any) -> str:
    """The log line of event ``ev<number>``, a minute after the previous one, with a newline."""
    fields.setdefault("time", T0 + timedelta(minutes=number))
    event = make_event(event_id=f"ev{number:05d}", **fields)
    return msgspec.json.encode(event).decode() + "\n"


def append(path: Path, *lines: str) -> None:
    """Append ``lines`` to ``path`` (created if need be), as a server writes its log."""
    with path.open("a", encoding="utf-8") as log:
        log.write("".join(lines))


class Recorder:
    """A detector that remembers every event it scored; it denies thieves', with a lock.

    ``crash_on``: an event id whose scoring kills the process (`Crash`); ``fail_on``: one
    whose scoring raises as a store that stopped answering would.
    """

    name = "recorder"

    def __init__(self, crash_on: str | None = None, fail_on: str | None = None) -> None:
        self.scored: Counter[str] = Counter()
        self.crash_on = crash_on
        self.fail_on = fail_on

    def score_one(self, context: EventContext) -> Finding | None:
        """Count the event; deny a thief's, revoking the session and locking the account."""
        event = context.event
        if event.event_id == self.crash_on:
            self.crash_on = None
            raise Crash(event.event_id)
        if event.event_id == self.fail_on:
            self.fail_on = None
            raise ConnectionError("the store did not answer")
        self.scored[event.event_id] += 1
        if event.account is None or not event.account.startswith(THIEF):
            return None
        return Finding(
            detector=self.name,
            verdict=Verdict.DENY,
            reason=Reason(detector=self.name, code="thief", message="a thief"),
            actions=(
                Action(kind=ActionKind.REVOKE_SESSION, target=event.session or "none"),
                Action(kind=ActionKind.LOCK_ACCOUNT, target=event.account),
            ),
        )

    def learn_one(self, context: EventContext, verdict: Verdict) -> None:
        """Nothing to learn."""


def recording_guard(recorder: Recorder) -> Guard:
    """A guard whose one detector is ``recorder`` (over its own memory store)."""
    return Guard(Knowledge(accounts={}, sites={}), detectors=[recorder])


class Enforcer:
    """An enforcer that remembers the records it carried out; ``crash_at``: dies on that call."""

    def __init__(
        self, name: str = "portal", kinds: frozenset[ActionKind] | None = None, crash_at: int = 0
    ) -> None:
        self.name = name
        self.kinds = kinds or frozenset({ActionKind.REVOKE_SESSION, ActionKind.LOCK_ACCOUNT})
        self.crash_at = crash_at
        self.applied: list[ActionRecord] = []

    def apply(self, record: ActionRecord) -> None:
        """Remember ``record``; die when this is call number ``crash_at``."""
        self.applied.append(record)
        if len(self.applied) == self.crash_at:
            raise Crash(f"enforcing record {record.id}")

    def lift(self, record: ActionRecord) -> None:
        """Remember nothing."""


class Clock:
    """A clock standing still until moved."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move on ``seconds``."""
        self.now += timedelta(seconds=seconds)


def file_mode(path: Path) -> int:
    """The permission bits of ``path``."""
    return path.stat().st_mode & 0o777
