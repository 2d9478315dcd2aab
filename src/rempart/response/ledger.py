"""The action ledger: every containment action and every lift, append-only, with its trigger.

Records are never rewritten: a change of state (an enforcer failed) is a new
entry with the same id, and a lift is a new record naming the ids it ends.
The ledger reads no clock: every call takes the time.

>>> from datetime import UTC, datetime, timedelta
>>> from rempart.guard.decision import Action, ActionKind, Decision, Verdict
>>> t0 = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)
>>> ledger = MemoryLedger()
>>> ban = Action(kind=ActionKind.BAN_ADDRESS, target="51.75.3.7", until=t0 + timedelta(hours=1))
>>> decision = Decision(event_id="ev1", verdict=Verdict.DENY, actions=(ban,), time=t0)
>>> [r.target for r in ledger.record(decision, "guard:login_attacks")]
['51.75.3.7']
>>> len(ledger.active(t0 + timedelta(minutes=30))), len(ledger.active(t0 + timedelta(hours=2)))
(1, 0)
>>> ledger.lift("51.75.3.7", ActionKind.BAN_ADDRESS, by="analyst:alice", now=t0).lifts
(1,)
>>> ledger.active(t0 + timedelta(minutes=30))
[]
"""

from __future__ import annotations

import fcntl
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import msgspec
import structlog

from rempart.errors import ConfigError
from rempart.guard.decision import ActionKind, Decision
from rempart.ingestion.rejected import rejected_from_error
from rempart.response.record import LIFTABLE, ActionRecord, RecordState

__all__ = ["ActionLedger", "JsonlLedger", "LedgerInUseError", "MemoryLedger"]

_log = structlog.get_logger(__name__)
_PRIVATE_MODE: Final = 0o600  # the ledger names accounts and addresses


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"{name}: expected an aware datetime")
    return moment.astimezone(UTC)


class ActionLedger(ABC):
    """Append-only history of actions; subclasses decide where entries persist.

    ``record`` turns a decision's actions into records, ``fail`` marks one as
    not carried out, ``lift`` ends the locks or bans in force on a target,
    and ``active`` lists what is in force at a given time.
    """

    def __init__(self) -> None:
        self._entries: list[ActionRecord] = []
        self._current: dict[int, ActionRecord] = {}
        self._ended: dict[int, int] = {}  # record id -> id of the lift that ended it
        self._last_id = 0  # the highest id so far: a new id costs no scan of the records
        self._lock = threading.Lock()

    # -- persistence seam --------------------------------------------------------------

    @abstractmethod
    def _persist(self, entry: ActionRecord) -> None:
        """Make ``entry`` durable before it becomes visible."""

    def _load(self, entry: ActionRecord) -> None:
        """Fold one entry into the current view (in file order on replay)."""
        self._entries.append(entry)
        self._current[entry.id] = entry
        self._last_id = max(self._last_id, entry.id)
        for ended in entry.lifts:
            self._ended.setdefault(ended, entry.id)

    def _append(self, entry: ActionRecord) -> ActionRecord:
        self._persist(entry)
        self._load(entry)
        return entry

    def _next_id(self) -> int:
        return self._last_id + 1

    # -- writing -----------------------------------------------------------------------

    def record(
        self, decision: Decision, trigger: str, now: datetime | None = None
    ) -> list[ActionRecord]:
        """Record each of ``decision``'s actions, triggered by ``trigger`` (``guard:budget``).

        The records are timed at ``now``, else at the decision's time; a
        decision with neither is refused (the ledger reads no clock).
        """
        moment = now if now is not None else decision.time
        if moment is None:
            raise ValueError("now: the decision has no time; pass the time of the action")
        moment = _utc(moment, "now")
        reasons = tuple(reason.code for reason in decision.reasons)
        with self._lock:
            next_id = self._next_id()
            records = [
                ActionRecord(
                    id=next_id + offset,
                    time=moment,
                    kind=action.kind,
                    target=action.target,
                    until=None if action.until is None else _utc(action.until, "until"),
                    trigger=trigger,
                    event_id=decision.event_id,
                    reasons=reasons,
                )
                for offset, action in enumerate(decision.actions)
            ]
            for record in records:
                self._append(record)
        return records

    def fail(self, record_id: int, error: str) -> ActionRecord:
        """Mark record ``record_id`` as not carried out by some enforcer, with the error."""
        with self._lock:
            current = self._current[record_id]
            return self._append(
                msgspec.structs.replace(current, state=RecordState.FAILED, error=error)
            )

    def lift(self, target: str, kind: ActionKind, by: str, now: datetime) -> ActionRecord | None:
        """End every ``kind`` (lock or ban) in force on ``target`` at ``now``, on ``by``'s word.

        Returns the lift record, or None when nothing was in force (lifting
        twice is harmless).
        """
        if kind not in LIFTABLE:
            raise ValueError(f"kind: expected one of {sorted(LIFTABLE)}, got {kind.value!r}")
        moment = _utc(now, "now")
        with self._lock:
            ended = tuple(
                record.id
                for record in self._in_force(moment)
                if record.kind is kind and record.target == target
            )
            if not ended:
                return None
            return self._append(
                ActionRecord(
                    id=self._next_id(),
                    time=moment,
                    kind=kind,
                    target=target,
                    trigger=by,
                    state=RecordState.LIFTED,
                    lifts=ended,
                )
            )

    # -- reading -----------------------------------------------------------------------

    def _in_force(self, now: datetime) -> Iterator[ActionRecord]:
        for record in self._current.values():
            if record.id not in self._ended and record.in_force_at(now):
                yield record

    def active(self, now: datetime) -> list[ActionRecord]:
        """Locks and bans in force at ``now``: not expired, not lifted (failed ones included)."""
        moment = _utc(now, "now")
        with self._lock:
            return sorted(self._in_force(moment), key=lambda record: record.id)

    def lifted(self, now: datetime) -> list[ActionRecord]:
        """Locks and bans lifted early that, unlifted, would still be in force at ``now``."""
        moment = _utc(now, "now")
        with self._lock:
            return [
                record
                for record in sorted(self._current.values(), key=lambda r: r.id)
                if record.id in self._ended and record.in_force_at(moment)
            ]

    def get(self, record_id: int) -> ActionRecord:
        """The current version of record ``record_id`` (KeyError when unknown)."""
        with self._lock:
            return self._current[record_id]

    def records(self) -> list[ActionRecord]:
        """The current version of every record, by id."""
        with self._lock:
            return sorted(self._current.values(), key=lambda record: record.id)

    def history(self) -> list[ActionRecord]:
        """Every entry ever appended, in order."""
        with self._lock:
            return list(self._entries)

    def __len__(self) -> int:
        return len(self._current)


class MemoryLedger(ActionLedger):
    """A ledger held in memory (tests, replay, a single short-lived process)."""

    def _persist(self, entry: ActionRecord) -> None:
        """Nothing to persist."""


class LedgerInUseError(ConfigError):
    """Another `JsonlLedger` (in this process or another) holds the file open for writing."""

    def __init__(self, path: Path) -> None:
        super().__init__("ledger", "a file no other ledger has open for writing", str(path))


class _Replayed(msgspec.Struct, frozen=True):
    """What a ledger file holds: its whole entries, and how its last line ends."""

    entries: list[ActionRecord]
    complete_length: int  # bytes up to the end of the last whole line
    torn: bool  # the last line is cut short (a write that never finished)
    unterminated: bool  # the last line is a whole entry without its newline


def _replay(content: bytes, source: str) -> _Replayed:
    """Decode a ledger file's bytes; a bad line other than the last is a located `RecordError`."""
    decoder = msgspec.json.Decoder(ActionRecord)
    entries: list[ActionRecord] = []
    lines = content.split(b"\n")
    complete_length = 0
    for number, line in enumerate(lines, start=1):
        is_last = number == len(lines)
        if is_last and not line:
            break
        try:
            entry = decoder.decode(line)
        except (msgspec.DecodeError, UnicodeDecodeError) as error:
            if is_last:  # no trailing newline: a write the process never finished
                return _Replayed(entries, complete_length, torn=True, unterminated=False)
            rejected = rejected_from_error(error, source=source, line=number, raw="")
            raise rejected.to_error() from None
        entries.append(entry)
        if is_last:
            return _Replayed(entries, complete_length, torn=False, unterminated=True)
        complete_length += len(line) + 1
    return _Replayed(entries, complete_length, torn=False, unterminated=False)


class JsonlLedger(ActionLedger):
    """A ledger kept in a JSON Lines file, one entry per line, replayed when opened.

    Each entry is written and flushed to disk before it counts. A final line
    torn by a crash mid-write is dropped (with a warning) and cut from the
    file; any other bad line is a `RecordError` with its line number. The
    file is created readable by its owner only.

    **One writer per file.** Ids are handed out in memory, so two writers
    would both give out the same id: opening takes an exclusive lock on the
    file (``flock``), held until `close`, and a second `JsonlLedger` on the
    same file, in this process or another, raises `LedgerInUseError`. The
    file is read once, when opened; from then on an append costs the same
    whatever the ledger's length (the last id is kept in memory). Another
    process may still look at the file without writing: `snapshot`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.path = Path(path)
        self._encoder = msgspec.json.Encoder()
        descriptor = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, _PRIVATE_MODE)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LedgerInUseError(self.path) from None
            self._replay_from(descriptor)
        except BaseException:
            os.close(descriptor)  # the lock goes with it
            raise
        self._file = os.fdopen(descriptor, "ab")

    def _replay_from(self, descriptor: int) -> None:
        with os.fdopen(os.dup(descriptor), "rb") as reader:
            replayed = _replay(reader.read(), str(self.path))
        if replayed.torn:
            _log.warning(
                "ledger_torn_line_dropped",
                path=str(self.path),
                line=len(replayed.entries) + 1,
            )
            os.ftruncate(descriptor, replayed.complete_length)
        elif replayed.unterminated:  # a whole record without its newline: complete it
            os.write(descriptor, b"\n")
        for entry in replayed.entries:
            self._load(entry)

    @classmethod
    def snapshot(cls, path: str | os.PathLike[str]) -> MemoryLedger:
        """The file's records as they stand, in a `MemoryLedger`, for a process that only looks.

        No lock is taken and the file is left as it is (a torn last line is
        skipped, not cut); what is recorded in the snapshot stays in memory.
        """
        source = Path(path)
        snapshot = MemoryLedger()
        if source.exists():
            for entry in _replay(source.read_bytes(), str(source)).entries:
                snapshot._load(entry)
        return snapshot

    def _persist(self, entry: ActionRecord) -> None:
        self._file.write(self._encoder.encode(entry) + b"\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Close the file and release its lock; the ledger can no longer be written."""
        self._file.close()

    def __enter__(self) -> JsonlLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
