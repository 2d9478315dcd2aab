"""MemoryStore: the store contract, plus its bound on the number of keys."""

from __future__ import annotations

import pytest

from rempart.errors import ConfigError
from rempart.stores.base import Window
from rempart.stores.memory import MemoryStore

from .contract import StoreContract, StoreFactory

HOUR = Window(3600.0, 60.0)


class TestMemoryStore(StoreContract):
    """The state-store contract, run on the in-memory store."""

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        """New, empty memory stores with the default bound."""
        return MemoryStore


class TestSmallMemoryStore(StoreContract):
    """The contract holds when the bound is just above the keys the suite uses."""

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        """New, empty memory stores holding at most eight keys."""
        return lambda: MemoryStore(max_keys=8)


def test_memory_is_bounded_and_evictions_counted() -> None:
    """Ten thousand distinct keys of every kind leave at most max_keys keys, each eviction
    counted."""
    store = MemoryStore(max_keys=100)
    for i in range(10_000):
        now = float(i)
        match i % 3:
            case 0:
                store.put(f"v{i}", i, now, ttl=86_400.0)
            case 1:
                store.add_counts(f"c{i}", now, (HOUR,))
            case _:
                store.add_member(f"s{i}", "x", now, ttl=86_400.0)
        assert len(store) <= 100
    assert len(store) == 100
    assert store.evictions == 9_900


def test_most_recently_written_keys_survive_eviction() -> None:
    """After eviction the last max_keys keys written are all still readable."""
    store = MemoryStore(max_keys=100)
    for i in range(10_000):
        store.put(f"k{i}", i, float(i), ttl=86_400.0)
    assert all(store.get(f"k{i}", 10_000.0) == i for i in range(9_900, 10_000))
    assert store.get("k9899", 10_000.0) is None


def write(store: MemoryStore, kind: str, now: float, ttl: float) -> None:
    """Write the key "old" at ``now`` with the operation for ``kind``."""
    if kind == "put":
        store.put("old", now, now, ttl)
    elif kind == "add_counts":
        store.add_counts("old", now, (Window(ttl, ttl),))
    else:
        store.add_member("old", f"m{now}", now, ttl)


@pytest.mark.parametrize("kind", ["put", "add_counts", "add_member"])
def test_a_rewritten_key_counts_as_recent(kind: str) -> None:
    """Writing an existing key again, even with a shorter TTL, protects it from the next
    evictions."""
    store = MemoryStore(max_keys=3)
    write(store, kind, 0.0, ttl=86_400.0)
    store.put("a", 1, 1.0, ttl=86_400.0)
    store.put("b", 1, 2.0, ttl=86_400.0)
    write(store, kind, 3.0, ttl=10.0)
    store.put("c", 1, 4.0, ttl=86_400.0)
    assert store.get("a", 4.0) is None
    assert store.get("b", 4.0) == 1
    assert store.evictions == 1


def test_max_keys_must_be_positive() -> None:
    """A bound below one key is a configuration error naming max_keys."""
    with pytest.raises(ConfigError, match="max_keys"):
        MemoryStore(max_keys=0)
