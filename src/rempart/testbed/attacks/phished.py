"""``phished``: thieves holding phished passwords, reading like office workers from home.

Each thief holds one professional's password, phished, and nothing more: no
password reset, no e-mail or MFA change, just logins. It works from its own
French home and mobile lines (two or three, one per session), with an
ordinary, current browser drawn like the professionals' own (not the
owner's), during office hours on weekdays (9:00-12:30 and 14:00-18:00,
Paris time, whatever the victim's site does), at a human pace, in a morning
and an afternoon session. It reads residents of the victim's department
whom the practice does not know, by typed NIR (with the right birth date) or
after a name search, never the same person twice, aiming at a few hundred
patients per account over several days. Nothing but the reads' lack of care
evidence, a network and a browser new to the account give it away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from rempart.directory import Profession
from rempart.testbed.attacks import AttackContext, Scenario
from rempart.testbed.attacks.browsing import browse, draw_strangers, ordinary_browsers
from rempart.testbed.attacks.infrastructure import residential_addresses
from rempart.testbed.clock import MICROS, day_start_us

__all__ = ["OFFICE_HOURS", "SCENARIO", "Phished"]

NAME = "phished"

OFFICE_HOURS: Final = ((540, 750), (840, 1080))
"""The thief's working day, in minutes after local midnight: 9:00-12:30, 14:00-18:00."""
_TIMEZONE: Final = "Europe/Paris"
_SPREAD: Final = 0.4  # a day reads between 0.6x and 1.4x ``reads_per_day``; an account's quota
_GAP_SIGMA: Final = 0.6  # log-normal spread of the pause between two reads
_MIN_GAP_S: Final = 10.0
_MAX_GAP_S: Final = 600.0
_EDGE_S: Final = 120.0  # kept free at each end of a half-day, for the login


@dataclass(frozen=True, slots=True)
class Phished:
    """Parameters: ``accounts`` phished (any profession but billing staff), each reading about
    ``reads_per_account`` patients (0.6x to 1.4x) at about ``reads_per_day`` a working day
    (0.6x to 1.4x), from a weekday drawn in the ``days``-day window from ``start_day``
    (counted from the period's start; negative counts from its end) until its quota or the
    period's end; ``median_gap_s`` seconds between two reads (log-normal, 10 s to 10 min);
    ``lines`` home or mobile addresses per thief; ``search_share`` of the patients found by a
    name search, the others by typed NIR."""

    accounts: int = 5
    reads_per_account: int = 300
    reads_per_day: int = 60
    start_day: int = -14
    days: int = 5
    median_gap_s: float = 40.0
    lines: int = 3
    search_share: float = 0.3


def generate(context: AttackContext, params: Phished) -> None:
    """Write each thief's sessions and reads into the context's buffer."""
    rng = context.rng(NAME)
    world = context.world
    professions = tuple(p for p in Profession if p is not Profession.BILLING)
    victims = context.take_victims(rng, params.accounts, professions)
    period_days = world.preset.days
    window_first = params.start_day % period_days
    window_days = max(1, min(params.days, period_days - window_first))
    taken = np.zeros(len(world.subjects.pseudonym), dtype=bool)
    browsers = ordinary_browsers(rng, len(victims))
    for k, victim in enumerate(victims):
        attacker = f"{NAME}:{k:02d}"
        quota = _around(params.reads_per_account, rng)
        first = window_first + int(rng.integers(0, window_days))
        times, runs = _office_reads(world.preset.start, first, period_days, quota, params, rng)
        if len(times) == 0:
            continue
        site = world.site_by_id[victim.site]
        patients = draw_strangers(world, site, len(times), taken, rng)
        times, runs = times[: len(patients)], runs[: len(patients)]
        lines = residential_addresses(world.network, rng, params.lines)
        run_line = lines[rng.integers(0, len(lines), size=int(runs.max()) + 1)]
        browse(
            context.events,
            world,
            account=victim.account,
            times=times,
            patients=patients,
            searched=rng.random(len(times)) < params.search_share,
            streams=runs,
            ip=run_line[runs],
            user_agent=np.full(len(times), browsers[k], dtype=object),
            label=NAME,
            attacker=attacker,
            rng=rng,
        )


def _around(mean: int, rng: np.random.Generator) -> int:
    """A count between (1 - spread) and (1 + spread) times ``mean``, at least 1."""
    low = max(1, round((1 - _SPREAD) * mean))
    return int(rng.integers(low, max(low, round((1 + _SPREAD) * mean)) + 1))


def _office_reads(
    start: date,
    first_day: int,
    period_days: int,
    quota: int,
    params: Phished,
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Up to ``quota`` sorted read times on weekdays from ``first_day``, and each one's run.

    A run is one half-day's session: its reads at a human pace, starting at
    a random minute that leaves it inside its half of the office day.
    """
    all_times: list[npt.NDArray[np.int64]] = []
    all_runs: list[npt.NDArray[np.int64]] = []
    left, run = quota, 0
    day = first_day
    while left > 0 and day < period_days:
        date_of_day = start + timedelta(days=day)
        if date_of_day.weekday() < 5:
            midnight = day_start_us(_TIMEZONE, date_of_day)
            today = min(left, _around(params.reads_per_day, rng))
            for size, (opens, closes) in zip(_halves(today, rng), OFFICE_HOURS, strict=True):
                offsets = _human_offsets_s(size, params.median_gap_s, rng)
                room = (closes - opens) * 60 - 2 * _EDGE_S
                offsets = offsets[offsets <= room]  # what does not fit is left for tomorrow
                if len(offsets) == 0:
                    continue
                begin = opens * 60 + _EDGE_S + float(rng.random()) * (room - offsets[-1])
                all_times.append(midnight + ((begin + offsets) * MICROS).astype(np.int64))
                all_runs.append(np.full(len(offsets), run, dtype=np.int64))
                left -= len(offsets)
                run += 1
        day += 1
    if not all_times:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    return np.concatenate(all_times), np.concatenate(all_runs)


def _halves(count: int, rng: np.random.Generator) -> tuple[int, int]:
    """``count`` reads split between the morning and the afternoon."""
    morning = int(rng.binomial(count, 0.45))
    return morning, count - morning


def _human_offsets_s(
    count: int, median_gap_s: float, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Seconds from a session's first read to each of its ``count`` reads, at a human pace."""
    if count == 0:
        return np.zeros(0, dtype=np.float64)
    gaps = np.clip(
        rng.lognormal(np.log(median_gap_s), _GAP_SIGMA, size=count - 1), _MIN_GAP_S, _MAX_GAP_S
    )
    return np.concatenate([[0.0], np.cumsum(gaps)])


SCENARIO = Scenario(NAME, Phished, generate)
