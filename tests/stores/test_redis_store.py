"""RedisStore: the store contract against a real Redis server, plus what only Redis has
(atomicity across clients, the wall-clock bound on every key, prefixes)."""

from __future__ import annotations

import threading
from itertools import count
from typing import Any

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from rempart.errors import ConfigError
from rempart.stores import MemoryStore, RedisStore
from rempart.stores.base import Window
from rempart.stores.redis import WALL_CLOCK_MARGIN

from .contract import (
    SHORT,
    StoreContract,
    StoreFactory,
    apply,
    contract_settings,
    observe,
    operations,
    starts,
)

pytestmark = pytest.mark.service

HOUR = Window(3600.0, 60.0)
DAY = Window(86_400.0, 3600.0)


@pytest.fixture
def client(redis_client: redis.Redis) -> redis.Redis:
    """The shared local Redis client (tests/conftest.py)."""
    return redis_client


@pytest.fixture
def prefix(redis_prefix: str) -> str:
    """The test's own key prefix (tests/conftest.py)."""
    return redis_prefix


@pytest.fixture
def store_factory(client: redis.Redis, prefix: str) -> StoreFactory:
    """New, empty stores sharing one client, each under its own prefix within the test's."""
    numbers = count()
    return lambda: RedisStore(client, prefix=f"{prefix}{next(numbers)}:")


class TestRedisStore(StoreContract):
    """The state-store contract, run on Redis."""


@contract_settings
@given(start=starts, steps=st.lists(operations, max_size=40))
def test_answers_like_the_memory_store(
    store_factory: StoreFactory, start: float, steps: list[tuple[Any, ...]]
) -> None:
    """Any sequence of operations gets the very answers MemoryStore gives."""
    redis_store, memory_store = store_factory(), MemoryStore()
    now = start
    for operation in steps:
        now += operation[1]
        assert apply(redis_store, operation, now) == apply(memory_store, operation, now)
        assert observe(redis_store, now) == observe(memory_store, now)


@contract_settings
@given(
    start=starts,
    steps=st.lists(st.tuples(st.integers(-30, 60), st.integers(1, 3), st.booleans()), max_size=40),
)
def test_counters_step_back_in_time_like_the_memory_store(
    store_factory: StoreFactory, start: float, steps: list[tuple[int, int, bool]]
) -> None:
    """Out-of-order additions land in the newest bucket, as RollingCount does."""
    redis_store, memory_store = store_factory(), MemoryStore()
    now = start
    for gap, amount, query_only in steps:
        now += gap
        if query_only:
            assert redis_store.counts("c", now, SHORT) == memory_store.counts("c", now, SHORT)
        else:
            assert redis_store.add_counts("c", now, SHORT, amount) == memory_store.add_counts(
                "c", now, SHORT, amount
            )


def test_add_counts_is_atomic_across_clients(redis_url: str, prefix: str) -> None:
    """Two threads with their own connections adding to one counter lose no addition, and
    each addition returns a distinct total."""
    additions = 500
    totals: list[float] = []
    lock = threading.Lock()

    def add_many() -> None:
        store = RedisStore(url=redis_url, prefix=prefix)
        try:
            for i in range(additions):
                (total,) = store.add_counts("shared", float(i), (HOUR,))
                with lock:
                    totals.append(total)
        finally:
            store.client.close()

    threads = [threading.Thread(target=add_many) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(totals) == [float(n) for n in range(1, 2 * additions + 1)]
    assert RedisStore(url=redis_url, prefix=prefix).counts("shared", 500.0, (HOUR,)) == (
        2.0 * additions,
    )


def test_every_key_has_a_wall_clock_bound(client: redis.Redis, prefix: str) -> None:
    """Each kind of key gets a Redis EXPIRE of its event-time lifetime plus the margin."""
    store = RedisStore(client, prefix=prefix)
    store.add_counts("c", 1_000_000.0, (HOUR, DAY))
    store.add_member("s", "short", 1_000_000.0, ttl=60.0)
    store.add_member("s", "long", 1_000_000.0, ttl=7200.5)
    store.put("v", {"a": 1}, 1_000_000.0, ttl=600.0)
    expected = {
        "c:c": DAY.period + DAY.resolution,
        "s:s": 7201,  # the longest-lived member, rounded up
        "v:v": 600,
    }
    for name, lifetime in expected.items():
        ttl = client.ttl(prefix + name)
        assert lifetime + WALL_CLOCK_MARGIN - 5 <= ttl <= lifetime + WALL_CLOCK_MARGIN


def test_restore_keeps_the_wall_clock_bound(client: redis.Redis, prefix: str) -> None:
    """A restored key carries the Redis EXPIRE it had when the snapshot was taken."""
    store = RedisStore(client, prefix=prefix + "a:")
    store.put("v", 1, 0.0, ttl=600.0)
    restored = RedisStore(client, prefix=prefix + "b:")
    restored.restore(store.snapshot())
    assert 600 + WALL_CLOCK_MARGIN - 5 <= client.ttl(prefix + "b:v:v") <= 600 + WALL_CLOCK_MARGIN


def test_expired_entries_are_deleted_when_met(client: redis.Redis, prefix: str) -> None:
    """Reading an entry past its event-time expiry deletes it from Redis."""
    store = RedisStore(client, prefix=prefix)
    store.put("v", 1, 0.0, ttl=10.0)
    store.add_counts("c", 0.0, (Window(10.0, 5.0),))
    store.add_member("s", "x", 0.0, ttl=10.0)
    assert store.get("v", 10.0) is None
    assert store.counts("c", 15.0, (Window(10.0, 5.0),)) == (0.0,)
    assert store.member_count("s", 10.0) == 0
    assert list(client.scan_iter(match=f"{prefix}*")) == []


def test_prefixes_isolate_stores(client: redis.Redis, prefix: str) -> None:
    """Stores with different prefixes neither see nor restore over each other's keys."""
    first = RedisStore(client, prefix=prefix + "first:")
    second = RedisStore(client, prefix=prefix + "second:")
    first.put("k", "first", 0.0, ttl=60.0)
    second.put("k", "second", 0.0, ttl=60.0)
    second.restore(RedisStore(client, prefix=prefix + "empty:").snapshot())
    assert first.get("k", 1.0) == "first"
    assert second.get("k", 1.0) is None


def test_glob_characters_in_the_prefix_are_literal(client: redis.Redis, prefix: str) -> None:
    """A prefix with glob characters snapshots its own keys only."""
    store = RedisStore(client, prefix=prefix + "[a]*:")
    RedisStore(client, prefix=prefix + "a:").put("other", 1, 0.0, ttl=60.0)
    store.put("mine", 2, 0.0, ttl=60.0)
    restored = RedisStore(client, prefix=prefix + "copy:")
    restored.restore(store.snapshot())
    assert restored.get("mine", 1.0) == 2
    assert restored.get("other", 1.0) is None


def test_fractional_amounts_are_exact(client: redis.Redis, prefix: str) -> None:
    """Amounts and totals cross the Lua scripts without losing a digit."""
    store = RedisStore(client, prefix=prefix)
    assert store.add_counts("c", 0.1, (HOUR,), 0.1) == (0.1,)
    assert store.add_counts("c", 0.2, (HOUR,), 0.2) == (0.1 + 0.2,)


def test_rejects_a_client_that_decodes_responses(redis_url: str) -> None:
    """A client decoding replies as text would corrupt values: a configuration error."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    with pytest.raises(ConfigError, match="client"):
        RedisStore(client)


def test_rejects_a_foreign_snapshot(client: redis.Redis, prefix: str) -> None:
    """Restoring bytes that are not a RedisStore snapshot is a configuration error."""
    store = RedisStore(client, prefix=prefix)
    store.put("k", 1, 0.0, ttl=60.0)
    with pytest.raises(ConfigError, match="snapshot"):
        store.restore(b"\x80")
    assert store.get("k", 1.0) == 1
