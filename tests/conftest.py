"""Fixtures shared across the test tree: a throwaway Redis server for the service tests.

The suite starts its own redis-server on a free loopback port for the session and
stops it at the end: nothing has to be running beforehand.
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import pytest
import redis

from .redis_server import Throwaway


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a redis-server the suite started for itself (stopped at the session's end)."""
    server = Throwaway(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
        yield server.url
    finally:
        server.kill()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the suite's own Redis server."""
    client = redis.Redis.from_url(redis_url)
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
