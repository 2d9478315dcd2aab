"""Fixtures shared across the test tree: a throwaway Redis server for the service tests.

The suite starts its own redis-server on a free loopback port for the session and
stops it at the end: nothing has to be running beforehand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any
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


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node: Any, ids: list[str]) -> None:
    """Refuse an xdist scheduler that groups tests when two share a node id.

    schemathesis' items share one node id; ``--dist loadfile`` or ``loadscope`` ran
    them as one and reported a failing operation as passed. ``scripts/test`` uses
    ``--dist load``; this keeps anyone from trading it back silently.
    """
    dist = node.config.getoption("dist", default="no")
    if dist not in ("loadfile", "loadscope", "loadgroup"):
        return
    counts = Counter(ids)
    shared = sorted(nodeid for nodeid, count in counts.items() if count > 1)
    if shared:
        raise pytest.UsageError(
            f"--dist {dist} would run as one test the items sharing a node id: {shared[0]} "
            f"({len(shared)} such ids); use --dist load"
        )
