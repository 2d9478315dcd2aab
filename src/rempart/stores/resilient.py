"""A store that survives its primary going away: fail open on local state, or fail closed.

`ResilientStore` wraps a networked `StateStore` (in practice `RedisStore`) and
passes every call to it. When a call fails for want of a connection (refused,
reset, timed out), the store turns *degraded*:

- in mode ``"open"`` it answers from a local fallback store (a `MemoryStore`
  unless one is given), so the guard keeps deciding on the state this instance
  builds up while the primary is away;
- in mode ``"closed"`` it raises `StoreUnavailableError`, so the caller refuses.

While degraded, it does not wait on the primary for every call: it tries it
again once ``retry_after`` seconds have passed on its clock, and returns to it
by itself as soon as it answers. The clock is a monotonic wall clock, read only
for that retry timer (every expiry is still the event time the caller passes),
and is injected so that tests drive it.

It is a circuit breaker, and it is safe to call from many threads at once
when its primary is (`RedisStore` is; its ``concurrent`` attribute says so):

- a call that finds the primary unreachable opens the circuit for every
  thread, so a hung primary costs one timeout per call in flight, each
  running alongside the others, and nothing after it;
- while the circuit is open, one call at a time probes the primary when the
  retry is due; the calls made meanwhile go straight to the fallback (or are
  refused), never waiting behind the probe. Given a ``probe`` (a cheap call
  to the primary: a Redis ``PING``), that call is not a caller's: it runs on
  a thread of its own, the caller due to retry answers from the fallback at
  once, and a hung primary costs no caller anything once the circuit is open;
- the fallback `MemoryStore` is not thread-safe, so calls into it take a
  lock of their own: a local one, never held across a network call.

So, with a primary whose calls give up after ``timeout`` seconds (a
`RedisStore` from `rempart.stores.redis.bounded_client`), every call answers
within about that timeout, whatever state the primary is in.

Every change of state is counted (`errors`, `degraded`, `recoveries`) and
reported to ``on_change(degraded, error)``, where the guard service hooks its
metrics and logs.

Degraded state is local: what the fallback learns during an outage is not
written back to the primary, and stays in the fallback (expiring in event
time) for the next outage. `snapshot` and `restore` never fall back: a
snapshot of the local state is not the primary's, so they raise
`StoreUnavailableError` while the primary is unreachable, whatever the mode.

>>> from rempart.stores.memory import MemoryStore
>>> store = ResilientStore(MemoryStore(), mode="open")
>>> store.add_member("seen:A1", "ps_x", 0.0, ttl=60.0)
True
>>> store.degraded, store.errors, store.recoveries
(False, 0, 0)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

import redis

from rempart.errors import ConfigError, StoreUnavailableError
from rempart.stores.base import StateStore, Window, Write
from rempart.stores.memory import MemoryStore

__all__ = ["CONNECTION_ERRORS", "ResilientStore"]

CONNECTION_ERRORS: tuple[type[Exception], ...] = (
    redis.ConnectionError,  # also BusyLoadingError: a restarted server still loading
    redis.TimeoutError,
    OSError,
)
"""What counts as the primary being unreachable; any other error propagates unchanged."""

_T = TypeVar("_T")


class ResilientStore:
    """A `StateStore` that follows a configured mode when its primary is unreachable.

    Parameters:
        primary: the store every call goes to while it answers.
        mode: ``"open"`` serves from ``fallback`` while degraded; ``"closed"``
            raises `StoreUnavailableError`.
        fallback: the local store used in mode ``"open"`` (a new `MemoryStore`
            when None); not allowed in mode ``"closed"``.
        retry_after: seconds of ``clock`` between attempts to reach the primary
            again while degraded.
        clock: a monotonic clock in seconds, read only while degraded.
        on_change: called with ``(True, "<error type>: <message>")`` when the
            store turns degraded and ``(False, None)`` when it recovers.
        probe: when given (and the primary is thread-safe, ``concurrent``), the
            retries are this call on a background thread instead of a
            caller's call: success closes the circuit, a connection error
            keeps it open for another ``retry_after``.

    Attributes:
        errors: connection errors met so far (each failed retry counts).
        degraded: whether calls are currently answered without the primary.
        recoveries: how many times the primary came back.
        last_error: the latest connection error, as passed to ``on_change``.
    """

    def __init__(
        self,
        primary: StateStore,
        *,
        mode: Literal["open", "closed"],
        fallback: StateStore | None = None,
        retry_after: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[bool, str | None], None] | None = None,
        probe: Callable[[], object] | None = None,
    ) -> None:
        if mode not in ("open", "closed"):
            raise ConfigError("mode", "'open' or 'closed'", mode)
        if mode == "closed" and fallback is not None:
            raise ConfigError(
                "fallback", "None in mode 'closed' (nothing is served locally)", fallback
            )
        if not retry_after >= 0.0:
            raise ConfigError("retry_after", "a number of seconds, zero or more", retry_after)
        self.primary = primary
        self.mode = mode
        self.retry_after = retry_after
        self.clock = clock
        self.on_change = on_change
        self.errors = 0
        self.degraded = False
        self.recoveries = 0
        self.last_error: str | None = None
        self._retry_at = 0.0
        self._state = threading.Lock()  # degraded, counters, the retry timer
        self._probe = threading.Lock()  # held by the one call trying the primary again
        self._local = threading.Lock()  # the fallback store is not thread-safe
        self.concurrent: bool = bool(getattr(primary, "concurrent", False))
        self._background = probe if self.concurrent else None
        # Chosen once, so that a degraded call never branches on the mode.
        self.fallback: StateStore | None
        self._refuge: Callable[[], StateStore]
        if mode == "open":
            local = self.fallback = fallback if fallback is not None else MemoryStore()
            self._refuge = lambda: local
        else:
            self.fallback = None
            self._refuge = self._refuse

    def __repr__(self) -> str:
        state = "degraded" if self.degraded else "healthy"
        return f"ResilientStore({self.primary!r}, mode={self.mode!r}, {state})"

    # -- routing ----------------------------------------------------------------------

    def _refuse(self) -> StateStore:
        raise StoreUnavailableError(f"state store unreachable, failing closed ({self.last_error})")

    def _route(self, call: Callable[[StateStore], _T], refuge: Callable[[], StateStore]) -> _T:
        """``call`` on the primary when it is healthy or due for a retry, else on ``refuge``."""
        if not self.degraded:
            try:
                return call(self.primary)
            except CONNECTION_ERRORS as error:
                self._lost(error)
                # Inside the handler, so that a refusal carries the connection error.
                return self._on_refuge(call, refuge)
        # Open circuit: one caller at a time probes the primary, the others do not wait.
        if self.clock() >= self._retry_at and self._probe.acquire(blocking=False):
            if self._background is not None:  # the probe is no caller's: nobody waits on it
                threading.Thread(target=self._probe_apart, daemon=True).start()
                return self._on_refuge(call, refuge)
            try:
                try:
                    result = call(self.primary)
                except CONNECTION_ERRORS as error:
                    self._lost(error)
                    return self._on_refuge(call, refuge)
                self._recovered()
                return result
            finally:
                self._probe.release()
        return self._on_refuge(call, refuge)

    def _probe_apart(self) -> None:
        """The background probe: close the circuit if the primary answers (holds ``_probe``)."""
        assert self._background is not None
        try:
            try:
                self._background()
            except CONNECTION_ERRORS as error:
                self._lost(error)
                return
            self._recovered()
        finally:
            self._probe.release()

    def _on_refuge(self, call: Callable[[StateStore], _T], refuge: Callable[[], StateStore]) -> _T:
        with self._local:
            return call(refuge())

    def _lost(self, error: Exception) -> None:
        with self._state:
            self.errors += 1
            self.last_error = f"{type(error).__name__}: {error}"
            self._retry_at = self.clock() + self.retry_after
            changed = not self.degraded
            self.degraded = True
        if changed and self.on_change is not None:
            self.on_change(True, self.last_error)

    def _recovered(self) -> None:
        with self._state:
            changed = self.degraded
            self.degraded = False
            if changed:
                self.recoveries += 1
        if changed and self.on_change is not None:
            self.on_change(False, None)

    # -- the StateStore seam ------------------------------------------------------------

    def add_counts(
        self, key: str, now: float, windows: tuple[Window, ...], amount: float = 1.0
    ) -> tuple[float, ...]:
        return self._route(lambda s: s.add_counts(key, now, windows, amount), self._refuge)

    def counts(self, key: str, now: float, windows: tuple[Window, ...]) -> tuple[float, ...]:
        return self._route(lambda s: s.counts(key, now, windows), self._refuge)

    def add_member(self, key: str, member: str, now: float, ttl: float) -> bool:
        return self._route(lambda s: s.add_member(key, member, now, ttl), self._refuge)

    def remove_member(self, key: str, member: str, now: float) -> bool:
        return self._route(lambda s: s.remove_member(key, member, now), self._refuge)

    def has_member(self, key: str, member: str, now: float) -> bool:
        return self._route(lambda s: s.has_member(key, member, now), self._refuge)

    def member_count(self, key: str, now: float) -> int:
        return self._route(lambda s: s.member_count(key, now), self._refuge)

    def get(self, key: str, now: float) -> Any:
        return self._route(lambda s: s.get(key, now), self._refuge)

    def put(self, key: str, value: Any, now: float, ttl: float) -> None:
        self._route(lambda s: s.put(key, value, now, ttl), self._refuge)

    def apply(self, writes: Sequence[Write]) -> None:
        self._route(lambda s: s.apply(writes), self._refuge)

    def snapshot(self) -> bytes:
        """The primary's snapshot; `StoreUnavailableError` while it is unreachable (any mode)."""
        return self._route(lambda s: s.snapshot(), self._refuse)

    def restore(self, data: bytes) -> None:
        """Restore the primary; `StoreUnavailableError` while it is unreachable, in either mode."""
        self._route(lambda s: s.restore(data), self._refuse)
