"""Issue #9, row "memory store growth": the memory store sweeps expired keys with bounded work
per write and holds a documented bound under a flood of distinct accounts and addresses."""

from __future__ import annotations

import tracemalloc
from datetime import timedelta

from rempart.guard import Guard
from rempart.stores import MemoryStore
from rempart.stores.memory import SWEEP_PER_WRITE
from rempart.testing import make_event
from tests.service.world import T0, knowledge

BYTES_PER_KEY = 2_000
"""The bound `rempart.stores.memory` documents (about 1.4 KB a key measured), with room."""


def _flood(guard: Guard, count: int, gap: float) -> float:
    """``count`` failed logins, each from a new account and a new address, ``gap`` s apart;
    the last event's time."""
    for n in range(count):
        failure = make_event(
            time=T0 + timedelta(seconds=n * gap),
            event_id=f"flood{n}",
            kind="login_failure",
            outcome="failure",
            account=f"X{n:07d}",
            ip=f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
            session=None,
        )
        guard.decide(failure)
    return (T0 + timedelta(seconds=(count - 1) * gap)).timestamp()


def test_a_flood_over_time_leaves_no_expired_key_behind() -> None:
    """3,000 failures a minute apart (two days): every key expired by the last one is gone,
    swept by later writes, and the store holds only what is still live."""
    store = MemoryStore()
    last = _flood(Guard(knowledge(), store), 3_000, gap=60.0)
    expired = [key for key in store._entries if store._entries[key][0] <= last]
    assert expired == []
    assert store.swept > 3_000
    assert len(store) < 3_000  # three keys per failure, most expired by now


def test_a_flood_at_once_stays_within_max_keys_and_the_bytes_per_key() -> None:
    """A burst where nothing expires is held to ``max_keys`` keys, each well under the
    documented size: memory is max_keys x ~1.4 KB whatever the flood."""
    store = MemoryStore(max_keys=2_000)
    guard = Guard(knowledge(), store)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        _flood(guard, 1_500, gap=0.01)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert len(store) == 2_000
    assert store.evictions == 3 * 1_500 + 1 - 2_000
    assert used < 2_000 * BYTES_PER_KEY


def test_each_write_sweeps_a_bounded_number_of_keys() -> None:
    """Ten thousand keys expiring together cost each later write at most SWEEP_PER_WRITE
    removals; the writes that follow clear them all."""
    store = MemoryStore()
    for n in range(10_000):
        store.put(f"k{n}", n, 0.0, ttl=1.0)
    store.put("late", 0, 100.0, ttl=1_000.0)
    assert store.swept == SWEEP_PER_WRITE
    for n in range(10_000 // SWEEP_PER_WRITE):
        store.put(f"late{n}", 0, 100.0, ttl=1_000.0)
    assert store.swept == 10_000
    assert len(store) == 1 + 10_000 // SWEEP_PER_WRITE


def test_a_rewritten_key_is_swept_at_its_new_expiry_and_the_heap_stays_small() -> None:
    """A counter rewritten for days is never swept while live, and the expiry heap holds
    about one item per key (stale items of evicted keys are rebuilt away)."""
    store = MemoryStore(max_keys=100)
    for n in range(5_000):
        store.put("hot", n, float(n), ttl=10.0)
        store.put(f"cold{n}", n, float(n), ttl=1e6)  # evicted by the bound, never expired
    assert store.get("hot", 4_999.0) == 4_999
    assert len(store._expiries) <= 2 * len(store) + 1_024


def test_a_long_lived_set_drops_its_expired_members() -> None:
    """An account active every day for a year adds one member a day, each kept 30 days, to a
    set that never expires while it is used (the takeover detector's active days): it holds
    about 30 members, not 365. Found by the soak benchmark: the memory store kept every
    expired member of a live set that is only ever asked ``has_member`` (Redis drops them on
    each addition)."""
    store = MemoryStore()
    day = 86_400.0
    for n in range(365):
        store.add_member("active", str(n), n * day, 30 * day)
        assert store.has_member("active", str(n), n * day)
    held = store._entries["active"][1]
    assert len(held) <= 31
    assert store.member_count("active", 364 * day) == 30
