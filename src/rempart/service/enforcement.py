"""The locks and bans in force, as the action ledger has them, ready to refuse an event.

The guard keeps its locks and bans in its state store, in event time. The
store is not where they are safe: a memory store forgets them on a restart
and evicts them under a flood of other keys; a Redis outage hides them (in
fail-open mode the guard decides on local state that never saw them) and a
lock decided during the outage lives only in that local state. The ledger,
on the other hand, records every lock, ban and lift before it counts, and a
`JsonlLedger` is replayed when the service starts.

`Enforcement` is the ledger's view of what is in force, by target, in
memory: one dictionary look-up per event. The decision service asks it

- before the guard, on every event, when the store is the service's own
  (a `MemoryStore`: the ledger is then the one authority);
- when the shared store is away (Redis degraded or failing), whatever the
  outage mode: a locked account is refused, never just challenged or
  answered 503.

Times are the server's clock, never an event's: a lock lasts until it is
lifted, a ban until its ``until`` on the wall clock. An event dated in the
year 9999 reads a ban as expired in the guard's event-time store; it does not
here.

>>> from datetime import UTC, datetime
>>> from rempart.guard.decision import ActionKind
>>> from rempart.response.record import ActionRecord
>>> from rempart.testing import make_event
>>> t0 = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)
>>> lock = ActionRecord(id=1, time=t0, kind=ActionKind.LOCK_ACCOUNT, target="A1",
...                     trigger="guard:step_up", reasons=("step_up_failed",))
>>> enforcement = Enforcement([lock])
>>> enforcement.refusal(make_event(account="A1"), t0).reasons[0].code
'account_locked'
>>> enforcement.lift(ActionKind.LOCK_ACCOUNT, "A1")
>>> enforcement.refusal(make_event(account="A1"), t0) is None
True
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final, NamedTuple

from rempart.events import Event
from rempart.guard.decision import ActionKind, Decision, Reason, Verdict
from rempart.response.record import ActionRecord

__all__ = ["Enforcement", "Standing"]

_PRUNE_EVERY: Final = 1_024  # bans added between two sweeps of the expired ones


class Standing(NamedTuple):
    """A lock or ban in force: since when, until when (None: until lifted), and why."""

    since: datetime
    until: datetime | None
    cause: str


def _clock(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


class Enforcement:
    """Locks by account and bans by address, from ledger records; thread-safe.

    ``records``: the ledger's records in force (`ActionLedger.active`).
    """

    def __init__(self, records: Iterable[ActionRecord] = ()) -> None:
        self._locks: dict[str, Standing] = {}
        self._bans: dict[str, Standing] = {}
        self._added = 0
        self._lock = threading.Lock()
        self.add(records)

    def __len__(self) -> int:
        return len(self._locks) + len(self._bans)

    def add(self, records: Iterable[ActionRecord], now: datetime | None = None) -> None:
        """Hold the locks and bans among ``records`` (other kinds are ignored).

        ``now``: the server's clock; every thousand bans or so, those expired by
        then are dropped, so that a flood of bans costs memory for its length only.
        """
        with self._lock:
            for record in records:
                cause = ", ".join(record.reasons) or record.trigger
                standing = Standing(record.time, record.until, cause)
                if record.kind is ActionKind.LOCK_ACCOUNT:
                    self._locks[record.target] = standing
                elif record.kind is ActionKind.BAN_ADDRESS:
                    held = self._bans.get(record.target)
                    # Never shortened: a later, shorter ban does not end a longer one.
                    if held is None or _later(standing.until, held.until):
                        self._bans[record.target] = standing
                    self._added += 1
            if now is not None and self._added >= _PRUNE_EVERY:
                self._added = 0
                expired = [
                    address
                    for address, ban in self._bans.items()
                    if ban.until is not None and ban.until <= now
                ]
                for address in expired:
                    del self._bans[address]

    def lift(self, kind: ActionKind, target: str) -> None:
        """Forget the lock or ban on ``target`` (an authorised lift)."""
        with self._lock:
            if kind is ActionKind.LOCK_ACCOUNT:
                self._locks.pop(target, None)
            elif kind is ActionKind.BAN_ADDRESS:
                self._bans.pop(target, None)

    def lock(self, account: str) -> Standing | None:
        """``account``'s lock, or None."""
        return self._locks.get(account)

    def ban(self, address: str, now: datetime) -> Standing | None:
        """``address``'s ban in force at ``now`` (the server's clock), or None."""
        ban = self._bans.get(address)
        if ban is None or (ban.until is not None and ban.until <= now):
            return None
        return ban

    def locks(self) -> dict[str, Standing]:
        """Every lock held, by account."""
        with self._lock:
            return dict(self._locks)

    def bans(self, now: datetime) -> dict[str, Standing]:
        """Every ban in force at ``now``, by address."""
        with self._lock:
            return {
                address: ban
                for address, ban in self._bans.items()
                if ban.until is None or ban.until > now
            }

    def refusal(self, event: Event, now: datetime) -> Decision | None:
        """The denial of ``event`` when its account is locked or its address banned at ``now``.

        Worded as the guard words its own (`rempart.guard.Guard`), with the
        ``guard`` detector's codes, so that a caller cannot tell them apart.
        """
        lock = self._locks.get(event.account) if event.account is not None else None
        if lock is not None:
            reason = Reason(
                detector="guard",
                code="account_locked",
                message=f"account locked since {_clock(lock.since)} ({lock.cause}); "
                "awaiting an out-of-band reset",
                figures={"locked_since": lock.since.timestamp()},
            )
        else:
            ban = self.ban(event.ip, now)
            if ban is None:
                return None
            until = "lifted" if ban.until is None else _clock(ban.until)
            reason = Reason(
                detector="guard",
                code="address_banned",
                message=f"address banned until {until} ({ban.cause})",
                figures={} if ban.until is None else {"banned_until": ban.until.timestamp()},
            )
        return Decision(
            event_id=event.event_id, verdict=Verdict.DENY, reasons=(reason,), time=event.time
        )


def _later(until: datetime | None, than: datetime | None) -> bool:
    if than is None:
        return False
    return until is None or until > than
