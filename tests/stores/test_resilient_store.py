"""ResilientStore: the store contract while healthy, fail-open and fail-closed while its
primary is unreachable, recovery by itself; and the same against a real Redis server that
is shut down and restarted under a guard."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast
from uuid import uuid4

import pytest
import redis

from rempart.errors import ConfigError, StoreUnavailableError
from rempart.events import Event
from rempart.evidence import CareEvidence
from rempart.guard import Decision, Guard
from rempart.stores import MemoryStore, RedisStore, ResilientStore
from rempart.stores.base import StateStore, Window
from tests.detectors.stream import build_stream, knowledge
from tests.redis_server import Throwaway

from .contract import StoreContract, StoreFactory

HOUR = Window(3600.0, 60.0)


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Switchable:
    """A MemoryStore behind a switch: while ``down``, every call raises ``error``."""

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.down = False
        self.error: Exception = redis.ConnectionError("Error 111 connecting. Connection refused.")
        self.calls = 0

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self.inner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.down:
                raise self.error
            return method(*args, **kwargs)

        return call


@dataclass
class Harness:
    """A resilient store over a switchable primary, its clock and its reported changes."""

    primary: Switchable
    clock: Clock
    changes: list[tuple[bool, str | None]]
    store: ResilientStore


def harness(mode: Literal["open", "closed"], retry_after: float = 5.0) -> Harness:
    """A healthy resilient store in ``mode`` whose primary the test can take down."""
    primary, clock, changes = Switchable(), Clock(), []
    store = ResilientStore(
        cast(StateStore, primary),
        mode=mode,
        retry_after=retry_after,
        clock=clock,
        on_change=lambda degraded, error: changes.append((degraded, error)),
    )
    return Harness(primary, clock, changes, store)


class TestResilientStore(StoreContract):
    """The state-store contract, run on a resilient store whose primary always answers."""

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        """New resilient stores over new memory stores, failing open."""
        return lambda: ResilientStore(MemoryStore(), mode="open")


class TestClosedResilientStore(StoreContract):
    """The contract holds in mode closed too."""

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        """New resilient stores over new memory stores, failing closed."""
        return lambda: ResilientStore(MemoryStore(), mode="closed")


def test_fail_open_serves_from_local_state() -> None:
    """Once the primary is unreachable, mode open answers from the fallback, reports the
    change once and stops calling the primary until the retry is due."""
    h = harness("open")
    h.store.add_counts("c", 0.0, (HOUR,), 5.0)
    h.primary.down = True
    assert h.store.add_counts("c", 1.0, (HOUR,)) == (1.0,)  # local: the 5 are in the primary
    assert h.store.add_member("s", "x", 1.0, ttl=60.0) is True
    assert h.store.has_member("s", "x", 2.0)
    assert h.store.counts("c", 2.0, (HOUR,)) == (1.0,)
    assert h.store.degraded
    assert h.store.errors == 1
    assert h.primary.calls == 2  # the healthy call and the one that failed
    assert h.changes == [(True, "ConnectionError: Error 111 connecting. Connection refused.")]
    assert h.store.fallback is not None
    assert h.store.fallback.counts("c", 2.0, (HOUR,)) == (1.0,)


def test_fail_closed_refuses() -> None:
    """Once the primary is unreachable, mode closed raises StoreUnavailableError on every call,
    chained to the connection error, without waiting on the primary each time."""
    h = harness("closed")
    h.primary.down = True
    with pytest.raises(StoreUnavailableError, match="failing closed") as raised:
        h.store.get("k", 0.0)
    assert isinstance(raised.value.__context__, redis.ConnectionError)
    for call in (
        lambda: h.store.add_counts("c", 1.0, (HOUR,)),
        lambda: h.store.has_member("s", "x", 1.0),
        lambda: h.store.put("v", 1, 1.0, ttl=10.0),
    ):
        with pytest.raises(StoreUnavailableError):
            call()
    assert h.primary.calls == 1
    assert (h.store.degraded, h.store.errors) == (True, 1)
    assert h.changes == [(True, "ConnectionError: Error 111 connecting. Connection refused.")]


@pytest.mark.parametrize("mode", ["open", "closed"])
def test_recovers_once_the_retry_is_due(mode: Literal["open", "closed"]) -> None:
    """The primary is tried again only after retry_after seconds of the clock; when it
    answers, the store recovers by itself and answers from it again."""
    h = harness(mode, retry_after=5.0)
    h.store.put("v", "primary", 0.0, ttl=600.0)
    h.primary.down = True
    with pytest.raises(StoreUnavailableError) if mode == "closed" else nullcontext():
        h.store.put("v", "local", 1.0, ttl=600.0)
    h.primary.down = False
    h.clock.now += 4.9
    with pytest.raises(StoreUnavailableError) if mode == "closed" else nullcontext():
        assert h.store.get("v", 2.0) == "local"
    assert h.primary.calls == 2
    h.clock.now += 0.1
    assert h.store.get("v", 3.0) == "primary"
    assert (h.store.degraded, h.store.errors, h.store.recoveries) == (False, 1, 1)
    assert h.changes[1:] == [(False, None)]
    assert h.store.add_counts("c", 4.0, (HOUR,)) == (1.0,)
    assert h.primary.inner.counts("c", 4.0, (HOUR,)) == (1.0,)


def test_a_background_probe_keeps_every_caller_off_a_hung_primary() -> None:
    """With a ``probe``, the caller due to retry is answered from the fallback at once while
    the probe runs on a thread of its own; a probe that fails keeps the circuit open, one
    that answers closes it, and the next call goes to the primary again."""
    primary, clock = Switchable(), Clock()
    primary.inner.concurrent = True  # type: ignore[attr-defined]  # thread-safe, like Redis
    released, probing = threading.Event(), threading.Event()
    outcomes: list[bool] = []

    def probe() -> None:  # a PING to a paused Redis: blocks until released
        probing.set()
        released.wait(10)
        outcomes.append(primary.down)
        if primary.down:
            raise redis.TimeoutError("Timeout reading from socket")

    store = ResilientStore(
        cast(StateStore, primary), mode="open", retry_after=5.0, clock=clock, probe=probe
    )
    primary.down = True
    store.put("v", "local", 1.0, ttl=600.0)  # the call that finds it down opens the circuit
    clock.now += 5.0
    calls = primary.calls
    assert store.get("v", 2.0) == "local"  # due to retry, yet answered without the primary
    assert probing.wait(10)
    assert primary.calls == calls  # the probe, not the caller, tried the primary
    assert store.get("v", 2.5) == "local"  # while the probe hangs, callers do not wait on it
    released.set()
    _wait_until(lambda: store.errors == 2)
    assert store.degraded
    primary.down = False
    clock.now += 5.0
    probing.clear()
    assert store.get("v", 3.0) == "local"
    _wait_until(lambda: not store.degraded)
    assert outcomes == [True, False]
    assert store.put("v", "primary", 4.0, ttl=600.0) is None
    assert primary.inner.get("v", 4.0) == "primary"


def _wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (set by the probe's thread) for up to 10 s."""
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "the probe never finished"
        time.sleep(0.005)


def test_a_failed_retry_waits_again() -> None:
    """A retry that fails counts an error and re-arms the timer, without a second report."""
    h = harness("open", retry_after=5.0)
    h.primary.down = True
    h.store.get("k", 0.0)
    h.clock.now += 5.0
    h.store.get("k", 1.0)
    assert (h.store.errors, h.primary.calls) == (2, 2)
    h.clock.now += 4.0
    h.store.get("k", 2.0)
    assert h.primary.calls == 2
    h.primary.down = False
    h.clock.now += 1.0
    h.store.get("k", 3.0)
    assert (h.store.degraded, h.store.errors, h.store.recoveries) == (False, 2, 1)
    assert [degraded for degraded, _ in h.changes] == [True, False]


@pytest.mark.parametrize(
    "error", [redis.TimeoutError("Timeout reading from socket"), ConnectionResetError(104, "reset")]
)
def test_timeouts_and_socket_errors_count_as_unreachable(error: Exception) -> None:
    """A timeout or an OS-level socket error degrades the store like a refused connection."""
    h = harness("open")
    h.primary.error, h.primary.down = error, True
    assert h.store.member_count("s", 0.0) == 0
    assert h.store.degraded
    assert h.changes[0][1] is not None
    assert h.changes[0][1].startswith(type(error).__name__)


def test_other_errors_propagate() -> None:
    """An error that is not about the connection is the caller's, and degrades nothing."""
    h = harness("open")
    h.primary.error, h.primary.down = redis.ResponseError("WRONGTYPE"), True
    with pytest.raises(redis.ResponseError):
        h.store.get("k", 0.0)
    assert (h.store.degraded, h.store.errors, h.changes) == (False, 0, [])


def test_snapshot_and_restore_never_fall_back() -> None:
    """A snapshot of the local state is not the primary's: both raise while degraded."""
    h = harness("open")
    data = h.store.snapshot()
    h.primary.down = True
    with pytest.raises(StoreUnavailableError):
        h.store.snapshot()
    with pytest.raises(StoreUnavailableError):
        h.store.restore(data)
    assert h.store.degraded


def test_healthy_calls_never_read_the_clock() -> None:
    """While the primary answers, the retry clock is never read."""

    def no_clock() -> float:
        raise AssertionError("read the clock while healthy")

    store = ResilientStore(MemoryStore(), mode="open", clock=no_clock)
    store.add_counts("c", 0.0, (HOUR,))
    assert store.get("v", 0.0) is None


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"mode": "half"}, "mode"),
        ({"mode": "closed", "fallback": MemoryStore()}, "fallback"),
        ({"mode": "open", "retry_after": -1.0}, "retry_after"),
        ({"mode": "open", "retry_after": float("nan")}, "retry_after"),
    ],
)
def test_rejects_invalid_configuration(overrides: dict[str, Any], key: str) -> None:
    """A bad mode, a fallback that would never serve, or a bad retry delay is a ConfigError."""
    with pytest.raises(ConfigError, match=key):
        ResilientStore(MemoryStore(), **overrides)


# -- a real Redis server, stopped and restarted under the guard ------------------------------


@pytest.fixture
def throwaway(tmp_path: Path) -> Iterator[Throwaway]:
    """A running throwaway redis-server, stopped whatever the test's outcome."""
    server = Throwaway(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.kill()


def _in_replay_order(events: tuple[Event, ...], evidence: tuple[CareEvidence, ...]) -> list[Any]:
    """Evidence and events interleaved as `rempart.replay.replay` feeds them."""
    items: list[Any] = []
    pending = iter(evidence)
    upcoming = next(pending, None)
    for event in events:
        while upcoming is not None and upcoming.time <= event.time:
            items.append(upcoming)
            upcoming = next(pending, None)
        items.append(event)
    return items


@pytest.mark.service
@pytest.mark.parametrize("mode", ["open", "closed"])
def test_guard_rides_out_a_redis_outage(
    throwaway: Throwaway, mode: Literal["open", "closed"]
) -> None:
    """With Redis shut down mid-stream the guard keeps deciding on local state (open) or
    refuses (closed), says so, and returns to Redis by itself once it is back."""
    stream = build_stream(seed=3)
    reference = Guard(knowledge(), MemoryStore())
    client = redis.Redis(
        host="127.0.0.1", port=throwaway.port, socket_timeout=0.5, socket_connect_timeout=0.5
    )
    clock, changes = Clock(), []
    store = ResilientStore(
        RedisStore(client, prefix=f"rempart-test:{uuid4().hex}:"),
        mode=mode,
        retry_after=5.0,
        clock=clock,
        on_change=lambda degraded, error: changes.append((degraded, error)),
    )
    guard = Guard(knowledge(), store)
    items = _in_replay_order(stream.events, stream.evidence)
    outage, back = len(items) // 3, 2 * len(items) // 3

    try:
        expected: list[Decision] = []
        decisions: list[Decision] = []
        for item in items[:outage]:
            if isinstance(item, CareEvidence):
                reference.observe(item)
                guard.observe(item)
            else:
                expected.append(reference.decide(item))
                decisions.append(guard.decide(item))
        assert decisions == expected
        assert (store.degraded, store.errors, cast("int", client.dbsize()) > 0) == (False, 0, True)

        throwaway.shutdown()
        decided = refused = 0
        for item in items[outage:back]:
            try:
                if isinstance(item, CareEvidence):
                    guard.observe(item)
                else:
                    guard.decide(item)
                    decided += 1
            except StoreUnavailableError:
                refused += 1
        assert store.degraded
        assert store.errors == 1  # the retry is not due: Redis was asked once
        assert changes == [(True, store.last_error)]
        assert store.last_error is not None
        assert store.last_error.startswith("ConnectionError")
        if mode == "open":
            assert (decided, refused) == (sum(isinstance(i, Event) for i in items[outage:back]), 0)
            assert store.fallback is not None
            assert len(cast(MemoryStore, store.fallback)) > 0
        else:
            assert (decided, refused) == (0, back - outage)

        throwaway.start()
        clock.now += 5.0
        local = len(cast(MemoryStore, store.fallback)) if store.fallback is not None else 0
        for item in items[back:]:
            if isinstance(item, CareEvidence):
                guard.observe(item)
            else:
                guard.decide(item)
        assert (store.degraded, store.recoveries) == (False, 1)
        assert changes[1:] == [(False, None)]
        assert (
            cast("int", client.dbsize()) > 0
        )  # the restarted server was empty: these are new writes
        if store.fallback is not None:
            assert len(cast(MemoryStore, store.fallback)) == local
    finally:
        client.close()
