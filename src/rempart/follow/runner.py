"""`follow`: decide each event of a live log as it is written, carry out the actions, lose nothing.

Like fail2ban or CrowdSec reading an access log, but deciding per account
and per patient with the guard. Each poll of the `LogTailer` gives new
lines; a `LogParser` turns them into events; ``guard.decide`` decides each;
the decisions' actions go through `rempart.response.dispatch` (recorded in
the action ledger, then carried out by every enforcer of their kind: the
portal's webhook revokes sessions and locks accounts, nftables or CrowdSec
ban addresses). Rejected lines are appended to a rejects file, located.

As in the decision service (`rempart.service.decisions`), when the guard's
store is its own memory (not shared), the ledger is asked first: a lock or
ban in force there refuses the event before the guard is asked, so that a
restart, which empties the memory store, forgets none of them.

**No line decided twice, none skipped.** Lines are decided in batches (the
lines of one poll, at most ``batch_lines``). After a batch is decided and
before any of its actions is carried out, one atomic write of the state
file (`rempart.follow.checkpoint`) commits together the position after the
batch and the batch's decisions that call for actions (``pending``), with
the ledger's length at that moment. Then the actions are recorded and carried
out, and the state is written again without them. On start, the owed
actions of a previous run are finished before anything is read: the ledger
records past the mark are those already made for them, in order, so each
action is recorded in the ledger once; an action not yet recorded is
dispatched; a recorded one not marked failed may have crashed before its
enforcers ran, so they run again (enforcement is at least once, and the
actions are idempotent: locking a locked account, banning a banned address;
a webhook post carries the record id for the portal to recognise a repeat).
Then reading resumes at the committed position. Where a crash can fall:

- *while deciding a batch, before its commit*: nothing of it was committed
  or carried out, and the batch is decided again on restart. Those earlier
  decisions left no trace outside the dead process except in the guard's
  state store: a memory store died with them, so every line is decided once
  by any guard that is still there; a shared store (Redis) keeps what they
  learned, so the lines of that one batch count twice in its windows (the
  one at-least-once case, bounded by ``batch_lines``, and conservative: it
  can only tighten a budget). Closing it would need the store to commit the
  position in the same transaction as each decision.
- *after the commit*: no line of the batch is decided again; its actions are
  finished on restart as above.

An exception out of the guard (a store that stopped answering) commits the
lines decided before the failing one, then propagates. A crash may repeat a
line of the rejects file (it is written before the position moves past the
line), never lose one.

The parser must be line-oriented: it yields the outcomes of a line before
asking for the next line (the access-log and JSON Lines parsers do); the
lines it is handed are the whole stream, across rotations, in one ``parse``.

>>> import pathlib, tempfile
>>> from rempart.guard import Guard, Knowledge
>>> from rempart.response import EnforcerRegistry, MemoryLedger
>>> from rempart.testing import make_event
>>> class RempartEvents:  # a log of Rempart's own events, one JSON object a line
...     name = "rempart-events"
...     def parse(self, lines):
...         for line in lines:
...             yield msgspec.json.decode(line.text, type=Event)
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> log = folder / "events.log"
>>> login = make_event(kind="login_success")
>>> _ = log.write_bytes(msgspec.json.encode(login) + b"\\n")
>>> guard = Guard(Knowledge(accounts={}, sites={}))
>>> report = follow(log, RempartEvents(), guard, state=folder / "events.log.follow",
...                 ledger=MemoryLedger(), enforcers=EnforcerRegistry(), max_polls=1,
...                 clock=lambda: login.time, notice=lambda message: None)
>>> report.events, report.verdicts, report.stopped
(1, {'allow': 1}, 'max_polls')
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Final

import msgspec
import structlog

from rempart.decision import Action, ActionKind, Decision
from rempart.errors import ConfigError
from rempart.events import Event, EventKind
from rempart.follow.checkpoint import Checkpoint, read_checkpoint, write_checkpoint
from rempart.follow.tailer import LogTailer, Position
from rempart.guard import Guard
from rempart.ingestion.jsonl import write_lines
from rempart.ingestion.logs.base import LINE_LIMIT, LogLine, LogParser
from rempart.ingestion.rejected import Rejected
from rempart.response.dispatch import dispatch, guard_trigger
from rempart.response.dispatch import enforce as enforce_record
from rempart.response.enforcers import EnforcerRegistry
from rempart.response.ledger import ActionLedger
from rempart.response.record import ActionRecord, RecordState
from rempart.service.enforcement import Enforcement

__all__ = ["FollowReport", "follow", "with_ban_on_lock"]

_log = structlog.get_logger(__name__)

_PRIVATE_MODE: Final = 0o600  # rejected lines hold raw log text, clear NIRs included
_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class FollowReport:
    """What one `follow` run did.

    ``start``: how reading started (where it resumed, or why at the
    beginning). ``stopped``: ``SIGINT``, ``SIGTERM``, ``stop`` (the event was
    set) or ``max_polls``. ``lines``: lines read (blank ones aside),
    rejected ones included; ``events``, ``rejects`` (unreadable lines and
    records the parser refused), ``skipped`` (lines understood as no portal
    action). ``verdicts``: decisions by verdict. ``actions_applied`` and
    ``actions_failed``: ledger records carried out by every enforcer of
    their kind, or not by some; ``recovered``: actions a previous run owed,
    finished at start (counted in the two before).
    """

    start: str
    stopped: str
    polls: int
    lines: int
    events: int
    rejects: int
    skipped: int
    verdicts: dict[str, int]
    actions_applied: int
    actions_failed: int
    recovered: int


@dataclass(slots=True)
class _Counts:
    polls: int = 0
    lines: int = 0
    events: int = 0
    rejects: int = 0
    skipped: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    applied: int = 0
    failed: int = 0
    recovered: int = 0

    def actions(self, records: list[ActionRecord]) -> None:
        for record in records:
            if record.state is RecordState.FAILED:
                self.failed += 1
            else:
                self.applied += 1


class _RejectsFile:
    """Rejected lines appended to a JSON Lines file, as `write_rejects` writes them.

    Created readable by its owner only; what is added is written and flushed
    to disk by `flush`, before the lines it came from are committed.
    """

    def __init__(self, path: Path | None) -> None:
        self._waiting: list[Rejected] = []
        self._file = None
        if path is not None:
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
            try:
                self._file = os.fdopen(os.open(path, flags, _PRIVATE_MODE), "ab")
            except OSError as error:
                raise ConfigError("rejects", "a file Rempart can append to", str(error)) from None

    def add(self, rejected: Rejected) -> None:
        if self._file is not None:
            self._waiting.append(rejected)

    def flush(self) -> None:
        if self._file is None or not self._waiting:
            return
        write_lines(self._file, self._waiting)
        self._waiting.clear()
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class _Follower:
    """One run of `follow` (see its docstring for the parameters)."""

    def __init__(
        self,
        log: Path,
        parser: LogParser,
        guard: Guard,
        *,
        state: Path,
        ledger: ActionLedger,
        enforcers: EnforcerRegistry,
        rejects: Path | None,
        interval: float,
        batch_lines: int,
        max_polls: int | None,
        read_limit: int,
        line_limit: int,
        rotate_wait: float,
        clock: Callable[[], datetime],
        sleep: Callable[[float], None] | None,
        stop: threading.Event | None,
        on_decision: Callable[[Event, Decision], None] | None,
        notice: Callable[[str], None] | None,
        ban_on_lock: timedelta | None = None,
    ) -> None:
        if interval < 0:
            raise ConfigError("interval", "a number of seconds, 0 or more", interval)
        if batch_lines < 1:
            raise ConfigError("batch_lines", "a positive number of lines", batch_lines)
        if max_polls is not None and max_polls < 1:
            raise ConfigError("max_polls", "a positive number of polls, or None", max_polls)
        self._name = os.fspath(log.absolute())  # what the state file is for
        self._parser = parser
        self._guard = guard
        self._state = state
        self._ledger = ledger
        self._enforcers = enforcers
        self._interval = interval
        self._batch_lines = batch_lines
        self._max_polls = max_polls
        self._clock = clock
        self._stop = stop if stop is not None else threading.Event()
        self._sleep = sleep if sleep is not None else self._stop.wait
        self._on_decision = on_decision
        self._ban_on_lock = ban_on_lock
        self._notice = notice if notice is not None else self._log_notice
        self._signal: str | None = None
        self.counts = _Counts()
        # Chosen once, as the decision service does: over the guard's own memory store the
        # ledger has the say on locks and bans; a shared store keeps them itself.
        self._ledger_first = not getattr(guard.store.store, "concurrent", False)
        self._enforcement = Enforcement(ledger.active(clock()))
        self._committed = self._recover()
        self._pending: list[Decision] = []  # decided on lines handled, not committed yet
        self._line_decisions: list[Decision] = []  # decided on the line being handled
        self._since_commit = 0
        self._rejects = _RejectsFile(rejects)
        try:
            self.tailer = LogTailer(
                log,
                start=self._committed.position,
                read_limit=read_limit,
                line_limit=line_limit,
                rotate_wait=rotate_wait,
                clock=lambda: self._clock().timestamp(),
                notice=self._notice,
            )
        except BaseException:
            self._rejects.close()
            raise
        self._done: Position | None = self.tailer.position  # after the last line handled

    def _log_notice(self, message: str) -> None:
        _log.info("follow", log=self._name, message=message)

    # -- committing and acting -----------------------------------------------------------

    def _recover(self) -> Checkpoint:
        """The committed checkpoint, with the actions it owed finished."""
        checkpoint = read_checkpoint(self._state)
        if checkpoint is None:
            checkpoint = Checkpoint(log=self._name)
            try:  # now, rather than after deciding the first lines
                write_checkpoint(self._state, checkpoint)
            except OSError as error:
                raise ConfigError("state", "a file Rempart can write", str(error)) from None
            return checkpoint
        if checkpoint.log != self._name:
            raise ConfigError("state", f"the state file of {self._name}", checkpoint.log)
        if not checkpoint.pending:
            return checkpoint
        made = deque(
            record for record in self._ledger.records() if record.id > checkpoint.ledger_mark
        )
        before = self.counts.applied + self.counts.failed
        for decision in checkpoint.pending:
            unrecorded = []
            for action in decision.actions:
                record = made[0] if made else None
                if (
                    record is None
                    or record.event_id != decision.event_id
                    or record.kind is not action.kind
                    or record.target != action.target
                ):
                    unrecorded.append(action)
                    continue
                made.popleft()
                # Dispatch's own enforcement step, for an action already recorded. A failed
                # one had all its enforcers run: the failure stands.
                if record.state is not RecordState.FAILED:
                    record = enforce_record(self._ledger, self._enforcers, record, lifting=False)
                self.counts.actions([record])
                self._enforcement.add([record], self._clock())
            if unrecorded:
                self._carry_out(msgspec.structs.replace(decision, actions=tuple(unrecorded)))
        self.counts.recovered = self.counts.applied + self.counts.failed - before
        self._notice(f"finished {self.counts.recovered} actions owed by the previous run")
        recovered = msgspec.structs.replace(checkpoint, pending=())
        write_checkpoint(self._state, recovered)
        return recovered

    def _carry_out(self, decision: Decision) -> None:
        """Record ``decision``'s actions in the ledger, then have the enforcers carry them out."""
        now = self._clock()
        try:
            records = dispatch(
                self._ledger, self._enforcers, decision, guard_trigger(decision), now
            )
        except ValueError as error:  # a target the ledger refuses (a clear NIR): never logged
            self.counts.failed += len(decision.actions)
            _log.error("ledger_refused", event_id=decision.event_id, error=str(error))
            return
        self.counts.actions(records)
        self._enforcement.add(records, now)

    def _checkpoint(self, position: Position | None) -> None:
        """Commit ``position`` and the decisions owed before it; then carry them out."""
        self._since_commit = 0
        if position == self._committed.position and not self._pending:
            return
        self._rejects.flush()
        committed = Checkpoint(
            log=self._name,
            position=position,
            pending=tuple(self._pending),
            ledger_mark=len(self._ledger),
        )
        write_checkpoint(self._state, committed)
        self._committed = committed
        if not self._pending:
            return
        self._pending = []
        for decision in committed.pending:
            self._carry_out(decision)
        self._committed = msgspec.structs.replace(committed, pending=())
        write_checkpoint(self._state, self._committed)

    # -- reading and deciding ------------------------------------------------------------

    def _stopping(self) -> bool:
        return self._stop.is_set() or (
            self._max_polls is not None and self.counts.polls >= self._max_polls
        )

    def _lines(self) -> Iterator[LogLine]:
        """The lines to parse, polled as they come; commits as the parser moves past them."""
        counts = self.counts
        while True:
            self._checkpoint(self._done)
            if self._stopping():
                return
            batch = self.tailer.poll_once()
            counts.polls += 1
            for tailed in batch:
                if self._stop.is_set():
                    break
                counts.lines += 1
                if isinstance(tailed.record, Rejected):
                    self._reject(tailed.record)
                else:
                    yield tailed.record
                    # Asked for the next line: every outcome of this one was handled.
                    self._pending += self._line_decisions
                    self._line_decisions.clear()
                self._done = tailed.after
                self._since_commit += 1
                if self._since_commit >= self._batch_lines:
                    self._checkpoint(self._done)
            else:
                self._done = self.tailer.position  # past blank lines, or on to a new file
                if not batch and not self._stopping():
                    self._sleep(self._interval)

    def _reject(self, rejected: Rejected) -> None:
        self.counts.rejects += 1
        self._rejects.add(rejected)

    def _decide(self, event: Event) -> None:
        self.counts.events += 1
        decision = None
        if self._ledger_first:
            decision = self._enforcement.refusal(event, self._clock())
        if decision is None and event.kind is EventKind.MFA_SUCCESS:
            # A second factor passed in the log is the step-up the guard would have asked
            # for: the session is vouched for, as when the portal reports it (Guard.step_up).
            decision = self._guard.step_up(event, passed=True)
        elif decision is None:
            decision = self._guard.decide(event)
            if self._ban_on_lock is not None:
                decision = with_ban_on_lock(decision, event, self._ban_on_lock)
        self.counts.verdicts[decision.verdict.value] += 1
        if decision.actions:
            self._line_decisions.append(decision)
        if self._on_decision is not None:
            self._on_decision(event, decision)

    def run(self) -> FollowReport:
        """Follow until stopped; the report of what was done."""
        try:
            with self._stopping_on_signals():
                for outcome in self._parser.parse(self._lines()):
                    try:
                        if isinstance(outcome, Event):
                            self._decide(outcome)
                        elif isinstance(outcome, Rejected):
                            self._reject(outcome)
                        else:
                            self.counts.skipped += 1
                    except Exception:
                        # Keep what was decided before this line; it is decided again next run.
                        self._line_decisions.clear()
                        self._checkpoint(self._done)
                        raise
                self._checkpoint(self._done)
        finally:
            self.tailer.close()
            self._rejects.close()
        counts = self.counts
        return FollowReport(
            start=self.tailer.start,
            stopped=self._signal or ("stop" if self._stop.is_set() else "max_polls"),
            polls=counts.polls,
            lines=counts.lines,
            events=counts.events,
            rejects=counts.rejects,
            skipped=counts.skipped,
            verdicts=dict(counts.verdicts),
            actions_applied=counts.applied,
            actions_failed=counts.failed,
            recovered=counts.recovered,
        )

    @contextmanager
    def _stopping_on_signals(self) -> Iterator[None]:
        """SIGINT and SIGTERM stop the run after the line at hand (main thread only)."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(number: int, frame: FrameType | None) -> None:
            self._signal = signal.Signals(number).name
            self._stop.set()

        previous = {number: signal.signal(number, stop) for number in _STOP_SIGNALS}
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)


def follow(
    log: str | os.PathLike[str],
    parser: LogParser,
    guard: Guard,
    *,
    state: str | os.PathLike[str],
    ledger: ActionLedger,
    enforcers: EnforcerRegistry,
    rejects: str | os.PathLike[str] | None = None,
    interval: float = 1.0,
    batch_lines: int = 256,
    max_polls: int | None = None,
    read_limit: int = 1 << 20,
    line_limit: int = LINE_LIMIT,
    rotate_wait: float = 5.0,
    clock: Callable[[], datetime] = _utc_now,
    sleep: Callable[[float], None] | None = None,
    stop: threading.Event | None = None,
    on_decision: Callable[[Event, Decision], None] | None = None,
    notice: Callable[[str], None] | None = None,
    ban_on_lock: timedelta | None = None,
) -> FollowReport:
    """Follow ``log``, deciding each event with ``guard`` and carrying out the actions.

    ``parser``: a line-oriented `LogParser` for the log's format. ``state``:
    the state file (created; one per log; delete it to start the log over).
    ``ledger`` and ``enforcers``: where actions are recorded and who carries
    them out (`rempart.response.dispatch`). ``rejects``: a JSON Lines file
    the rejected lines are appended to (None: only counted).

    ``interval``: seconds between polls that found nothing. ``batch_lines``:
    lines decided at most between two commits. ``max_polls``: stop after
    that many polls (None: until SIGINT, SIGTERM or ``stop``). ``read_limit``,
    ``line_limit``, ``rotate_wait``: the `LogTailer`'s. ``clock``: the time
    of actions, of the locks and bans in force, and of ``rotate_wait``.
    ``sleep``: waits between polls (by default on ``stop``, so that a signal
    ends the wait). ``on_decision`` hears every event and its decision,
    before the actions are carried out; ``notice`` hears how reading started
    and each rotation (logged by default). ``ban_on_lock``: when a decision
    locks an account, also ban the address of the event that locked it, for
    that long (`with_ban_on_lock`; None: the guard's actions as they are).

    Exceptions out of the guard, the ledger or the state file propagate,
    after the lines decided before them are committed. Returns the
    `FollowReport`.
    """
    return _Follower(
        Path(log),
        parser,
        guard,
        state=Path(state),
        ledger=ledger,
        enforcers=enforcers,
        rejects=None if rejects is None else Path(rejects),
        interval=interval,
        batch_lines=batch_lines,
        max_polls=max_polls,
        read_limit=read_limit,
        line_limit=line_limit,
        rotate_wait=rotate_wait,
        clock=clock,
        sleep=sleep,
        stop=stop,
        on_decision=on_decision,
        notice=notice,
        ban_on_lock=ban_on_lock,
    ).run()


def with_ban_on_lock(decision: Decision, event: Event, duration: timedelta) -> Decision:
    """``decision``, plus a ban of ``event``'s address when it locks an account.

    Following a log, Rempart acts after the portal has answered: a challenge
    stops nothing, and the reads the guard challenges were served. When the
    guard has seen enough to lock the account (a robot that never answers
    its challenges, `rempart.policy.Response.unanswered_to_lock`), the
    address it read from is banned too, for ``duration``, so that the robot
    cannot go on through another stolen account from the same machine, as
    fail2ban would ban it. The ban expires by itself: a shared address (a
    pharmacy's line) is not shut out for good.

    >>> from datetime import timedelta
    >>> from rempart.decision import Action, ActionKind, Decision, Verdict
    >>> from rempart.testing import make_event
    >>> event = make_event()
    >>> locked = Decision(event_id=event.event_id, verdict=Verdict.DENY,
    ...     actions=(Action(kind=ActionKind.LOCK_ACCOUNT, target="A00001"),), time=event.time)
    >>> [a.kind.value for a in with_ban_on_lock(locked, event, timedelta(hours=1)).actions]
    ['lock_account', 'ban_address']
    """
    kinds = {action.kind for action in decision.actions}
    if ActionKind.LOCK_ACCOUNT not in kinds or ActionKind.BAN_ADDRESS in kinds:
        return decision
    ban = Action(kind=ActionKind.BAN_ADDRESS, target=event.ip, until=event.time + duration)
    return msgspec.structs.replace(decision, actions=(*decision.actions, ban))
