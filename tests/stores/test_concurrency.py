"""Stores called from many threads: one batch per thread over a thread-safe store, and a
circuit breaker whose probe never makes other calls wait."""

from __future__ import annotations

import threading
from typing import Any, cast

import redis

from rempart.stores import MemoryStore, ResilientStore
from rempart.stores.base import StateStore
from rempart.stores.batching import BatchingStore, ConcurrentBatchingStore, batching_for


class Gate(MemoryStore):
    """A "thread-safe" store whose ``get``, once ``hanging``, waits for ``open`` and fails."""

    concurrent = True

    def __init__(self) -> None:
        super().__init__()
        self.open = threading.Event()
        self.entered = threading.Event()
        self.hanging = False

    def get(self, key: str, now: float) -> Any:
        if self.hanging:
            self.entered.set()
            self.open.wait(timeout=10)
            raise redis.TimeoutError("Timeout reading from socket")
        return super().get(key, now)


def test_batching_for_picks_a_batch_per_thread_only_for_a_concurrent_store() -> None:
    """A memory store gets the plain batching store; a concurrent one a per-thread one."""
    assert type(batching_for(MemoryStore())) is BatchingStore
    assert type(batching_for(cast(StateStore, Gate()))) is ConcurrentBatchingStore


def test_each_thread_holds_its_own_batch() -> None:
    """Updates held back in one thread are neither applied nor dropped by another's commit."""
    inner = MemoryStore()
    store = ConcurrentBatchingStore(inner)
    store.begin()
    store.put("mine", 1, 0.0, 60.0)
    other = threading.Thread(
        target=lambda: (store.begin(), store.put("theirs", 2, 0.0, 60.0), store.commit())
    )
    other.start()
    other.join()
    assert (inner.get("theirs", 0.0), inner.get("mine", 0.0)) == (2, None)
    store.commit()
    assert inner.get("mine", 0.0) == 1


def test_calls_made_while_a_probe_hangs_do_not_wait_for_it() -> None:
    """With the circuit open, the one call probing a hung primary waits for it; a call
    made meanwhile is answered from the fallback at once."""
    primary = Gate()
    store = ResilientStore(cast(StateStore, primary), mode="open", retry_after=0.0)
    assert store.concurrent
    primary.hanging = True
    primary.open.set()  # fails at once: the circuit opens
    store.get("k", 0.0)
    assert store.degraded
    primary.open.clear()
    primary.entered.clear()
    probe = threading.Thread(target=store.get, args=("k", 0.0))  # the retry is due at once
    probe.start()
    assert primary.entered.wait(timeout=10)  # the probe hangs on the primary
    store.put("k", 1, 0.0, 60.0)  # answered by the fallback meanwhile, not waiting
    assert store.fallback is not None
    assert store.fallback.get("k", 0.0) == 1
    assert probe.is_alive()
    primary.open.set()
    probe.join(timeout=10)
    assert (store.degraded, store.errors) == (True, 2)
