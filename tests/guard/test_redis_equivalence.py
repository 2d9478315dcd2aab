"""The guard decides the same on Redis as in memory: the store is only a seam."""

from __future__ import annotations

import pytest
import redis

from rempart.guard import Guard
from rempart.replay import replay
from rempart.stores import MemoryStore, RedisStore
from tests.detectors.stream import build_stream, knowledge

from .conftest import Simulated

pytestmark = [pytest.mark.service, pytest.mark.slow]

EVENTS = 4_000


@pytest.fixture
def redis_store(redis_client: redis.Redis, redis_prefix: str) -> RedisStore:
    """A Redis store under the test's own prefix on the local server (tests/conftest.py)."""
    return RedisStore(redis_client, prefix=redis_prefix)


def test_same_decisions_on_the_attack_stream(redis_store: RedisStore) -> None:
    """The detectors' attack stream (stuffing, takeover, canary, stolen session…) gets
    identical decisions, non-allow ones included, from Redis and from memory."""
    stream = build_stream(seed=3)
    in_memory = list(replay(stream.events, stream.evidence, Guard(knowledge(), MemoryStore())))
    on_redis = list(replay(stream.events, stream.evidence, Guard(knowledge(), redis_store)))
    assert in_memory == on_redis
    assert {d.verdict.value for d in in_memory} == {"allow", "challenge", "deny"}


def test_same_decisions_on_the_testbed(small: Simulated, redis_store: RedisStore) -> None:
    """Replaying the first events of the small testbed gives identical decisions on both."""
    events = small.events[:EVENTS]
    last = events[-1].time
    evidence = [e for e in small.evidence if e.time <= last]
    in_memory = list(replay(events, evidence, Guard(small.knowledge(), MemoryStore())))
    on_redis = list(replay(events, evidence, Guard(small.knowledge(), redis_store)))
    assert in_memory == on_redis


def test_each_decision_updates_redis_in_one_transaction(redis_store: RedisStore) -> None:
    """During a decision the guard never writes to Redis call by call: all of its updates
    go in one MULTI/EXEC pipeline, so instances sharing Redis never see half a decision."""
    stream = build_stream(seed=3)
    direct: list[str] = []
    transactions: list[bool] = []
    for name in ("add_counts", "add_member", "put"):
        original = getattr(redis_store, name)

        def counted(*args: object, _original: object = original, _name: str = name) -> object:
            direct.append(_name)
            return _original(*args)  # type: ignore[operator]

        setattr(redis_store, name, counted)
    client = redis_store.client
    make_pipeline = client.pipeline

    def pipeline(transaction: bool = True, shard_hint: object = None) -> object:
        transactions.append(transaction)
        return make_pipeline(transaction=transaction, shard_hint=shard_hint)

    client.pipeline = pipeline  # type: ignore[method-assign]
    guard = Guard(knowledge(), redis_store)
    for item in stream.evidence:
        guard.observe(item)
    direct.clear()
    for event in stream.events:
        guard.decide(event)
    assert direct == []
    assert transactions
    assert all(transactions)
    assert len(transactions) <= len(stream.events)
