"""RollingCount against a naive oracle: totals, merging, state round-trips, bounded memory."""

from __future__ import annotations

import math
from itertools import accumulate

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rempart.windows import RollingCount

Events = list[tuple[float, float]]

# Halves, quarters and integers are exact in binary, so the oracle's sums and bucket
# starts are computed exactly and the comparisons need no tolerance.
resolutions = st.sampled_from([0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 60.0])
period_factors = st.sampled_from([1.0, 1.5, 2.0, 3.0, 4.5, 10.0])
starts = st.integers(0, 10**6).map(float)
steps = st.integers(0, 80).map(lambda halves: halves / 2)
amounts = st.integers(1, 5).map(float)


def oracle_total(events: Events, now: float, period: float, resolution: float) -> float:
    """Sum the amounts whose bucket still overlaps ``(now - period, now]``."""
    return sum(
        amount for time, amount in events if (time - time % resolution) + resolution > now - period
    )


def times_from(start: float, gaps: list[float]) -> list[float]:
    """Non-decreasing event times: ``start`` then each gap added in turn."""
    return list(accumulate(gaps, initial=start))[1:]


def fed(period: float, resolution: float, events: Events) -> RollingCount:
    """A window fed ``events`` in order."""
    window = RollingCount(period, resolution)
    for time, amount in events:
        window.add(time, amount)
    return window


@given(
    resolution=resolutions,
    factor=period_factors,
    start=starts,
    ops=st.lists(st.tuples(steps, amounts, st.booleans()), max_size=60),
)
def test_total_matches_oracle(
    resolution: float, factor: float, start: float, ops: list[tuple[float, float, bool]]
) -> None:
    """After every addition or query at non-decreasing times, the total equals the oracle's."""
    period = resolution * factor
    window = RollingCount(period, resolution)
    events: Events = []
    now = start
    for gap, amount, query_only in ops:
        now += gap
        if not query_only:
            window.add(now, amount)
            events.append((now, amount))
        assert window.total(now) == oracle_total(events, now, period, resolution)


@given(
    resolution=resolutions,
    factor=period_factors,
    start=starts,
    gaps=st.lists(steps, min_size=1, max_size=40),
    amounts=st.lists(st.floats(0.001, 1000.0), min_size=40, max_size=40),
)
def test_float_amounts_match_oracle_and_empty_window_is_zero(
    resolution: float, factor: float, start: float, gaps: list[float], amounts: list[float]
) -> None:
    """Float amounts total like the oracle (to rounding), and a window whose buckets all
    expired totals exactly zero."""
    period = resolution * factor
    events = list(zip(times_from(start, gaps), amounts, strict=False))
    window = fed(period, resolution, events)
    last = events[-1][0]
    assert window.total(last) == pytest.approx(oracle_total(events, last, period, resolution))
    assert window.total(last + period + resolution) == 0.0


@given(
    resolution=resolutions,
    factor=period_factors,
    start=starts,
    mine=st.lists(st.tuples(steps, amounts), max_size=30),
    theirs=st.lists(st.tuples(steps, amounts), max_size=30),
    later=st.lists(steps, min_size=1, max_size=5),
)
def test_merge_equals_one_window_fed_both(
    resolution: float,
    factor: float,
    start: float,
    mine: list[tuple[float, float]],
    theirs: list[tuple[float, float]],
    later: list[float],
) -> None:
    """Two windows fed disjoint event lists, merged, total like one window fed both lists."""
    period = resolution * factor
    my_events = list(
        zip(times_from(start, [g for g, _ in mine]), [a for _, a in mine], strict=True)
    )
    their_events = list(
        zip(times_from(start, [g for g, _ in theirs]), [a for _, a in theirs], strict=True)
    )
    merged = fed(period, resolution, my_events)
    merged += fed(period, resolution, their_events)
    both = fed(period, resolution, sorted(my_events + their_events, key=lambda e: e[0]))
    last = max((time for time, _ in my_events + their_events), default=start)
    for now in times_from(last, later):
        assert merged.total(now) == both.total(now)
        assert merged.total(now) == oracle_total(my_events + their_events, now, period, resolution)


def test_merge_refuses_different_shapes() -> None:
    """Windows of different periods or resolutions cannot be merged."""
    window = RollingCount(3600, 60)
    with pytest.raises(ValueError, match="shapes"):
        window += RollingCount(3600, 30)
    with pytest.raises(ValueError, match="shapes"):
        window += RollingCount(7200, 60)


@given(
    resolution=resolutions,
    factor=period_factors,
    start=starts,
    ops=st.lists(st.tuples(steps, amounts), max_size=40),
    later=st.lists(steps, min_size=1, max_size=5),
)
def test_state_round_trips(
    resolution: float,
    factor: float,
    start: float,
    ops: list[tuple[float, float]],
    later: list[float],
) -> None:
    """A window rebuilt from its msgpack-encoded state has the same state and totals."""
    period = resolution * factor
    events = list(zip(times_from(start, [g for g, _ in ops]), [a for _, a in ops], strict=True))
    window = fed(period, resolution, events)
    state = window.to_state()
    rebuilt = RollingCount.from_state(msgspec.msgpack.decode(msgspec.msgpack.encode(state)))
    assert rebuilt.to_state() == state
    assert len(rebuilt) == len(window)
    for now in times_from(events[-1][0] if events else start, later):
        assert rebuilt.total(now) == window.total(now)


@given(
    resolution=resolutions,
    factor=period_factors,
    start=starts,
    gaps=st.lists(steps, max_size=200),
)
def test_memory_is_bounded(
    resolution: float, factor: float, start: float, gaps: list[float]
) -> None:
    """A window never holds more than ceil(period / resolution) + 1 buckets after an addition."""
    period = resolution * factor
    bound = math.ceil(period / resolution) + 1
    window = RollingCount(period, resolution)
    for now in times_from(start, gaps):
        window.add(now)
        assert len(window) <= bound


def test_memory_is_bounded_over_many_additions() -> None:
    """Ten thousand additions over a day leave at most period / resolution + 1 buckets."""
    window = RollingCount(period=3600, resolution=60)
    for second in range(0, 86_400, 8):
        window.add(float(second))
        assert len(window) <= 3600 / 60 + 1


@pytest.mark.parametrize(
    ("period", "resolution"),
    [(3600, 0), (3600, -60), (3600, 3601), (3600, math.nan), (0, 0)],
)
def test_constructor_rejects_bad_resolution(period: float, resolution: float) -> None:
    """A resolution that is not positive, exceeds the period or is NaN is refused."""
    with pytest.raises(ValueError, match="resolution"):
        RollingCount(period, resolution)
