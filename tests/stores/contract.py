"""The contract every `StateStore` honours, as a reusable suite (like river's check_estimator).

A store's test module subclasses `StoreContract` in a ``Test...`` class and
defines a ``store_factory`` fixture: a callable returning a new, empty store on
each call (a networked store flushes its database or uses a fresh key prefix)::

    class TestRedisStore(StoreContract):
        @pytest.fixture
        def store_factory(self, redis_url: str) -> StoreFactory:
            return lambda: RedisStore.connect(redis_url, prefix=uuid4().hex)

Every time below is event time: a store never reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rempart.stores.base import StateStore, Window, Write
from tests.wall_clock import forbid_wall_clock

__all__ = ["StoreContract", "StoreFactory"]

StoreFactory = Callable[[], StateStore]

HOUR = Window(3600.0, 60.0)
DAY = Window(86_400.0, 3600.0)
# Short windows, one whose period is not a multiple of its resolution, so that
# generated traffic crosses bucket and window edges often.
SHORT = (Window(100.0, 10.0), Window(45.0, 10.0))

# The factory fixture is a pure constructor, so sharing it across examples is safe; and
# each store's subclass runs the same methods on its own instance ("differing executors"),
# which is the point of a contract suite: every example builds its store from the factory.
contract_settings = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.differing_executors],
)

gaps = st.integers(0, 60).map(float)
starts = st.integers(0, 10**6).map(float)
msgpack_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


def oracle_total(events: list[tuple[float, float]], now: float, window: Window) -> float:
    """Sum the amounts whose bucket still overlaps ``(now - period, now]``."""
    period, resolution = window
    return sum(
        amount for time, amount in events if (time - time % resolution) + resolution > now - period
    )


# One generated operation: (kind, gap before it, key index, member index, amount or ttl, value).
operations = st.tuples(
    st.sampled_from(["count", "member", "remove", "put", "query"]),
    gaps,
    st.integers(0, 1),
    st.integers(0, 2),
    st.integers(1, 90).map(float),
    msgpack_values,
)
COUNTER_KEYS = ("c:a", "c:b")
SET_KEYS = ("s:a", "s:b")
VALUE_KEYS = ("v:a", "v:b")
MEMBERS = ("m0", "m1", "m2")


def apply(store: StateStore, operation: tuple[Any, ...], now: float) -> Any:
    """Run one generated operation on ``store`` at ``now`` and return its answer."""
    kind, _, key, member, number, value = operation
    if kind == "count":
        return store.add_counts(COUNTER_KEYS[key], now, SHORT, number)
    if kind == "member":
        return store.add_member(SET_KEYS[key], MEMBERS[member], now, ttl=number)
    if kind == "remove":
        return store.remove_member(SET_KEYS[key], MEMBERS[member], now)
    if kind == "put":
        store.put(VALUE_KEYS[key], value, now, ttl=number)
        return None
    return observe(store, now)


def observe(store: StateStore, now: float) -> tuple[Any, ...]:
    """Every answer the store gives at ``now`` about the keys operations touch."""
    return (
        tuple(store.counts(key, now, SHORT) for key in COUNTER_KEYS),
        tuple(store.member_count(key, now) for key in SET_KEYS),
        tuple(store.has_member(key, member, now) for key in SET_KEYS for member in MEMBERS),
        tuple(store.get(key, now) for key in VALUE_KEYS),
    )


class StoreContract:
    """The behaviour every `StateStore` shows; subclasses provide ``store_factory``."""

    @pytest.fixture
    def store(self, store_factory: StoreFactory) -> StateStore:
        """A new, empty store."""
        return store_factory()

    # Counters.

    def test_add_counts_returns_totals_per_window(self, store: StateStore) -> None:
        """Each addition returns the new total of every window of the key, in order."""
        assert store.add_counts("k", 0.0, (HOUR, DAY)) == (1.0, 1.0)
        assert store.add_counts("k", 10.0, (HOUR, DAY), 2.5) == (3.5, 3.5)
        assert store.add_counts("k", 4000.0, (HOUR, DAY)) == (1.0, 4.5)
        assert store.counts("k", 4000.0, (HOUR, DAY)) == (1.0, 4.5)

    def test_counters_are_per_key(self, store: StateStore) -> None:
        """Counting under one key leaves another key's totals alone."""
        store.add_counts("a", 0.0, (HOUR,), 5.0)
        assert store.add_counts("b", 1.0, (HOUR,)) == (1.0,)
        assert store.counts("a", 2.0, (HOUR,)) == (5.0,)

    def test_counts_of_unknown_key_are_zeros(self, store: StateStore) -> None:
        """An unknown key has a zero total for each window asked about."""
        assert store.counts("never", 123.0, (HOUR, DAY)) == (0.0, 0.0)
        assert store.counts("never", 123.0, (HOUR,)) == (0.0,)

    def test_counter_expires_when_its_bucket_leaves_the_window(self, store: StateStore) -> None:
        """An event counts until its whole bucket is older than the period, then not at all."""
        store.add_counts("k", 0.0, (HOUR,))
        assert store.counts("k", 3600.0, (HOUR,)) == (1.0,)
        assert store.counts("k", 3659.0, (HOUR,)) == (1.0,)
        assert store.counts("k", 3660.0, (HOUR,)) == (0.0,)
        assert store.add_counts("k", 3661.0, (HOUR,)) == (1.0,)

    @contract_settings
    @given(
        start=starts,
        steps=st.lists(
            st.tuples(gaps, st.integers(0, 1), st.integers(1, 3).map(float), st.booleans()),
            max_size=40,
        ),
    )
    def test_counters_match_oracle(
        self,
        store_factory: StoreFactory,
        start: float,
        steps: list[tuple[float, int, float, bool]],
    ) -> None:
        """Totals returned by additions and by queries equal a naive sum over the events."""
        store = store_factory()
        events: dict[str, list[tuple[float, float]]] = {key: [] for key in COUNTER_KEYS}
        now = start
        for gap, key_index, amount, query_only in steps:
            now += gap
            key = COUNTER_KEYS[key_index]
            if query_only:
                answer = store.counts(key, now, SHORT)
            else:
                events[key].append((now, amount))
                answer = store.add_counts(key, now, SHORT, amount)
            assert answer == tuple(oracle_total(events[key], now, w) for w in SHORT)

    # Sets.

    def test_add_member_is_true_only_when_new(self, store: StateStore) -> None:
        """Adding a member reports True when it was absent from that set, False otherwise."""
        assert store.add_member("s", "x", 0.0, ttl=100.0) is True
        assert store.add_member("s", "x", 1.0, ttl=100.0) is False
        assert store.add_member("s", "y", 2.0, ttl=100.0) is True
        assert store.add_member("t", "x", 3.0, ttl=100.0) is True

    def test_add_member_is_true_again_once_expired(self, store: StateStore) -> None:
        """A member re-added after its TTL counts as new."""
        store.add_member("s", "x", 0.0, ttl=10.0)
        assert store.add_member("s", "x", 10.0, ttl=10.0) is True
        assert store.add_member("s", "x", 15.0, ttl=10.0) is False

    def test_has_member_honours_ttl(self, store: StateStore) -> None:
        """A member is present until ``now + ttl`` and absent from then on."""
        store.add_member("s", "x", 100.0, ttl=10.0)
        assert store.has_member("s", "x", 100.0)
        assert store.has_member("s", "x", 109.5)
        assert not store.has_member("s", "x", 110.0)
        assert not store.has_member("s", "other", 100.0)
        assert not store.has_member("unknown", "x", 100.0)

    def test_re_adding_a_member_extends_its_ttl(self, store: StateStore) -> None:
        """Re-adding a member restarts its TTL from the new time."""
        store.add_member("s", "x", 0.0, ttl=10.0)
        store.add_member("s", "x", 8.0, ttl=10.0)
        assert store.has_member("s", "x", 17.0)
        assert not store.has_member("s", "x", 18.0)

    def test_member_count_drops_expired_members(self, store: StateStore) -> None:
        """member_count counts only the members whose TTL has not run out."""
        store.add_member("s", "short", 0.0, ttl=10.0)
        store.add_member("s", "long", 0.0, ttl=20.0)
        assert store.member_count("s", 5.0) == 2
        assert store.member_count("s", 15.0) == 1
        assert store.member_count("s", 25.0) == 0
        assert store.member_count("unknown", 0.0) == 0

    def test_remove_member_takes_it_out_at_once(self, store: StateStore) -> None:
        """A removed member is absent before its TTL runs out; the set's others stay."""
        store.add_member("s", "x", 0.0, ttl=100.0)
        store.add_member("s", "y", 0.0, ttl=100.0)
        assert store.remove_member("s", "x", 10.0) is True
        assert not store.has_member("s", "x", 10.0)
        assert not store.has_member("s", "x", 50.0)
        assert store.has_member("s", "y", 10.0)
        assert store.member_count("s", 10.0) == 1
        assert store.remove_member("s", "x", 11.0) is False
        assert store.add_member("s", "x", 12.0, ttl=100.0) is True
        assert store.has_member("s", "x", 13.0)

    def test_remove_member_of_nothing_live_is_false(self, store: StateStore) -> None:
        """Removing an unknown member, from an unknown set, or once expired, reports False."""
        assert store.remove_member("unknown", "x", 0.0) is False
        store.add_member("s", "x", 0.0, ttl=10.0)
        assert store.remove_member("s", "other", 1.0) is False
        assert store.remove_member("s", "x", 10.0) is False
        assert store.member_count("s", 10.0) == 0

    def test_removing_the_last_member_empties_the_set(self, store: StateStore) -> None:
        """A set whose only member is removed holds nothing, and takes new members again."""
        store.add_member("s", "x", 0.0, ttl=100.0)
        store.remove_member("s", "x", 1.0)
        assert store.member_count("s", 2.0) == 0
        assert store.add_member("s", "x", 3.0, ttl=5.0) is True
        assert not store.has_member("s", "x", 8.0)

    def test_a_century_lasts_until_removed(self, store: StateStore) -> None:
        """A member held for a century (the guard's standing relationships) stays until removed."""
        century = 100 * 365 * 86_400.0
        start = 1.6e9
        store.add_member("s", "x", start, ttl=century)
        assert store.has_member("s", "x", start + 30 * 365 * 86_400.0)
        assert store.remove_member("s", "x", start + 30 * 365 * 86_400.0) is True
        assert not store.has_member("s", "x", start + 30 * 365 * 86_400.0 + 1.0)

    @contract_settings
    @given(
        start=starts,
        steps=st.lists(
            st.tuples(
                st.integers(0, 20).map(float),
                st.sampled_from(SET_KEYS),
                st.sampled_from(MEMBERS),
                st.integers(1, 30).map(float),
                st.booleans(),
            ),
            max_size=40,
        ),
    )
    def test_sets_match_oracle(
        self,
        store_factory: StoreFactory,
        start: float,
        steps: list[tuple[float, str, str, float, bool]],
    ) -> None:
        """Additions, removals, membership and counts equal a dictionary of member expiries."""
        store = store_factory()
        expiries: dict[tuple[str, str], float] = {}
        now = start
        for gap, key, member, ttl, remove in steps:
            now += gap
            was_live = expiries.get((key, member), -1.0) > now
            if remove:
                assert store.remove_member(key, member, now) is was_live
                expiries.pop((key, member), None)
            else:
                assert store.add_member(key, member, now, ttl) is not was_live
                expiries[key, member] = now + ttl
            for other_key in SET_KEYS:
                live = {m for (k, m), expiry in expiries.items() if k == other_key and expiry > now}
                for other_member in MEMBERS:
                    assert store.has_member(other_key, other_member, now) is (other_member in live)
                assert store.member_count(other_key, now) == len(live)

    # Values.

    # A decision's updates, applied together.

    def test_apply_equals_the_calls_one_by_one(self, store_factory: StoreFactory) -> None:
        """`apply` of a batch of updates leaves the same answers as making the calls in order."""
        writes = [
            Write("add_counts", ("k", 0.0, (HOUR, DAY), 2.0)),
            Write("add_member", ("s", "m1", 0.0, 100.0)),
            Write("put", ("v", {"a": [1, 2]}, 0.0, 100.0)),
            Write("add_counts", ("k", 30.0, (HOUR, DAY))),
            Write("add_member", ("s", "m2", 10.0, 5.0)),
            Write("put", ("v", "replaced", 20.0, 50.0)),
        ]
        batched, one_by_one = store_factory(), store_factory()
        batched.apply(writes)
        for write in writes:
            getattr(one_by_one, write.method)(*write.args)
        for store in (batched, one_by_one):
            assert store.counts("k", 40.0, (HOUR, DAY)) == (3.0, 3.0)
            assert store.member_count("s", 12.0) == 2
            assert store.has_member("s", "m2", 16.0) is False
            assert store.get("v", 30.0) == "replaced"
            assert store.get("v", 71.0) is None

    def test_apply_removes_members_in_order(self, store_factory: StoreFactory) -> None:
        """A removal in a batch takes effect between the updates around it, as one by one."""
        writes = [
            Write("add_member", ("s", "m1", 0.0, 100.0)),
            Write("remove_member", ("s", "m1", 1.0)),
            Write("add_member", ("s", "m2", 2.0, 100.0)),
            Write("remove_member", ("s", "m3", 3.0)),
            Write("add_member", ("s", "m3", 4.0, 100.0)),
        ]
        batched, one_by_one = store_factory(), store_factory()
        batched.apply(writes)
        for write in writes:
            getattr(one_by_one, write.method)(*write.args)
        for store in (batched, one_by_one):
            assert not store.has_member("s", "m1", 5.0)
            assert store.has_member("s", "m2", 5.0)
            assert store.has_member("s", "m3", 5.0)
            assert store.member_count("s", 5.0) == 2

    def test_apply_of_nothing_changes_nothing(self, store: StateStore) -> None:
        """An empty batch is allowed and leaves the store as it was."""
        store.apply([])
        assert store.counts("k", 0.0, (HOUR,)) == (0.0,)

    def test_get_and_put_honour_ttl(self, store: StateStore) -> None:
        """A value is returned until ``now + ttl`` and None from then on, or for unknown keys."""
        store.put("k", "value", 100.0, ttl=10.0)
        assert store.get("k", 100.0) == "value"
        assert store.get("k", 109.5) == "value"
        assert store.get("k", 110.0) is None
        assert store.get("unknown", 100.0) is None

    def test_put_replaces_value_and_ttl(self, store: StateStore) -> None:
        """A second put replaces both the value and its expiry."""
        store.put("k", 1, 0.0, ttl=10.0)
        store.put("k", 2, 5.0, ttl=100.0)
        assert store.get("k", 50.0) == 2

    @pytest.mark.parametrize(
        "value",
        [
            0,
            -(2**63),
            2**64 - 1,
            1.5,
            -0.25,
            "é, ß and 漢字",
            "",
            True,
            [1, "two", 3.0, [4]],
            {"count": 3, "ratio": 0.5, "tags": ["a", "b"], "nested": {"deep": "yes"}},
            [],
            {},
        ],
    )
    def test_values_round_trip(self, store: StateStore, value: Any) -> None:
        """A msgpack-serialisable value comes back equal, directly and through a snapshot."""
        store.put("k", value, 0.0, ttl=60.0)
        assert store.get("k", 1.0) == value
        data = store.snapshot()
        store.restore(data)
        assert store.get("k", 2.0) == value

    @contract_settings
    @given(value=msgpack_values)
    def test_generated_values_round_trip(self, store_factory: StoreFactory, value: Any) -> None:
        """Any msgpack-serialisable value survives put, get, snapshot and restore."""
        store = store_factory()
        store.put("k", value, 0.0, ttl=60.0)
        assert store.get("k", 1.0) == value
        restored = store_factory()
        restored.restore(store.snapshot())
        assert restored.get("k", 2.0) == value

    # Snapshots.

    def test_snapshot_restores_counters(
        self, store: StateStore, store_factory: StoreFactory
    ) -> None:
        """A restored store gives the same counter totals now, later and after new additions."""
        for second in range(0, 7200, 90):
            store.add_counts("k", float(second), (HOUR, DAY), 2.0)
        restored = store_factory()
        restored.restore(store.snapshot())
        for now in (7200.0, 9000.0, 10_799.0, 11_000.0, 90_000.0):
            assert restored.counts("k", now, (HOUR, DAY)) == store.counts("k", now, (HOUR, DAY))
        assert restored.add_counts("k", 90_001.0, (HOUR, DAY)) == store.add_counts(
            "k", 90_001.0, (HOUR, DAY)
        )

    def test_restore_replaces_content(self, store: StateStore, store_factory: StoreFactory) -> None:
        """Restoring drops whatever the store held before."""
        other = store_factory()
        other.put("kept", 1, 0.0, ttl=60.0)
        store.put("dropped", 2, 0.0, ttl=60.0)
        store.add_member("set", "x", 0.0, ttl=60.0)
        store.add_counts("counter", 0.0, (HOUR,))
        store.restore(other.snapshot())
        assert store.get("kept", 1.0) == 1
        assert store.get("dropped", 1.0) is None
        assert not store.has_member("set", "x", 1.0)
        assert store.counts("counter", 1.0, (HOUR,)) == (0.0,)

    @contract_settings
    @given(
        start=starts,
        before=st.lists(operations, max_size=30),
        after=st.lists(operations, max_size=15),
    )
    def test_snapshot_restore_reproduces_every_answer(
        self,
        store_factory: StoreFactory,
        start: float,
        before: list[tuple[Any, ...]],
        after: list[tuple[Any, ...]],
    ) -> None:
        """A fresh store restored from a snapshot answers every later operation identically."""
        store = store_factory()
        now = start
        for operation in before:
            now += operation[1]
            apply(store, operation, now)
        restored = store_factory()
        restored.restore(store.snapshot())
        assert observe(restored, now) == observe(store, now)
        for operation in after:
            now += operation[1]
            assert apply(restored, operation, now) == apply(store, operation, now)
            assert observe(restored, now) == observe(store, now)

    # Time.

    def test_never_reads_the_wall_clock(
        self, store: StateStore, store_factory: StoreFactory, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Every operation works with the clock functions patched to raise."""

        forbid_wall_clock(monkeypatch, "a store must use the event time it is given")
        store.add_counts("c", 0.0, (HOUR, DAY))
        store.counts("c", 10.0, (HOUR, DAY))
        store.add_member("s", "x", 0.0, ttl=60.0)
        store.has_member("s", "x", 10.0)
        store.member_count("s", 10.0)
        store.add_member("s", "y", 0.0, ttl=60.0)
        store.remove_member("s", "y", 10.0)
        store.put("v", {"a": [1, 2.5]}, 0.0, ttl=60.0)
        store.get("v", 10.0)
        restored = store_factory()
        restored.restore(store.snapshot())
        assert observe(restored, 20.0) == observe(store, 20.0)
