"""Fixtures shared across the test tree: the local Redis server the service tests use."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest
import redis

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """A client of the local Redis server; fails (never skips) when no server answers."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.ConnectionError as error:
        client.close()
        pytest.fail(
            f"Redis is not answering at {REDIS_URL} ({error}). Start it with: "
            'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" '
            "--appendonly no   (CI starts it in .ci/run)"
        )
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key prefix unique to the test; every key under it is deleted afterwards."""
    prefix = f"rempart-test:{uuid4().hex}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=f"{prefix}*", count=1_000))
    if keys:
        redis_client.delete(*keys)
