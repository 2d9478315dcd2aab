"""BatchingStore: the store contract outside a batch, and updates held back inside one."""

from __future__ import annotations

import pytest

from rempart.stores.batching import BatchingStore
from rempart.stores.memory import MemoryStore

from .contract import StoreContract, StoreFactory


class TestBatchingStore(StoreContract):
    """The state-store contract, run on a batching store with no batch open."""

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        """New batching stores over new memory stores."""
        return lambda: BatchingStore(MemoryStore())


def test_a_removal_waits_for_the_commit() -> None:
    """Inside a batch a removed member is still there until the batch is committed."""
    store = BatchingStore(MemoryStore())
    store.add_member("s", "x", 0.0, ttl=100.0)
    store.begin()
    assert store.remove_member("s", "x", 1.0) is True
    assert store.has_member("s", "x", 1.0)
    store.commit()
    assert not store.has_member("s", "x", 1.0)
