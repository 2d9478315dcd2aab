"""Local opening hours to UTC microseconds, for the simulated calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import cache
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from rempart.directory import Site

__all__ = ["MICROS", "day_start_us", "draw_open_minutes"]

MICROS = 1_000_000


@cache
def day_start_us(timezone: str, day: date) -> int:
    """Local midnight of ``day`` in ``timezone``, as UTC microseconds."""
    local = datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone))
    return int(local.astimezone(UTC).timestamp()) * MICROS


def draw_open_minutes(
    site: Site, weekdays: npt.NDArray[np.int64], rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """A local minute inside the site's opening hours for each entry of ``weekdays``.

    Minutes may pass 1440 for intervals that run past midnight.
    """
    minutes = np.zeros(len(weekdays), dtype=np.float64)
    for weekday in np.unique(weekdays):
        where = np.flatnonzero(weekdays == weekday)
        spans = [(i.opens, i.closes) for i in site.hours if i.weekday == weekday]
        if not spans:
            spans = [(540, 1080)]  # an exceptional day outside the hours: office hours
        lengths = np.array([c - o for o, c in spans], dtype=np.float64)
        pick = rng.choice(len(spans), size=len(where), p=lengths / lengths.sum())
        opens = np.array([o for o, _ in spans], dtype=np.float64)[pick]
        minutes[where] = opens + rng.random(len(where)) * lengths[pick]
    return minutes
