"""``search-harvest``: thieves listing people through the portal's search, a page at a time.

Each thief holds one professional's phished password and nothing more (no
password reset, no e-mail or MFA change). From its own French home or
mobile line, with an ordinary browser drawn like the professionals' own,
it logs in and runs broad searches (a common surname and a birth year, say)
at a human pace: each lists a page of several people, names and birth dates
that are what a targeted phishing campaign needs, and the page is rarely
followed by opening a record. Nobody is listed twice to the same thief. The
per-read signals (typed NIRs not found, robot timing, reads of far-away
patients) see almost nothing: only counting every person a search listed
against the account's unexplained budget does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from rempart.directory import Profession
from rempart.events import RESULTS_MAX, EventKind, Lookup
from rempart.testbed.attacks import AttackContext, Scenario
from rempart.testbed.attacks.browsing import ordinary_browsers
from rempart.testbed.attacks.infrastructure import residential_addresses
from rempart.testbed.clock import MICROS, day_start_us
from rempart.testbed.sessions import cut_sessions, emit_logins, session_ids

__all__ = ["SCENARIO", "SearchHarvest"]

NAME = "search-harvest"

_TIMEZONE: Final = "Europe/Paris"
_WORKING: Final = (8 * 60, 21 * 60)  # the thief's day, minutes after local midnight
_GAP_SIGMA: Final = 0.5  # log-normal spread of the pause between two searches
_MIN_GAP_S: Final = 8.0
_MAX_GAP_S: Final = 300.0
_MORE_MATCHES: Final = 200  # a full page's search matched up to this many more people
_READ_DELAY_S: Final = (10, 60)  # from the list to the record opened from it


@dataclass(frozen=True, slots=True)
class SearchHarvest:
    """Parameters: ``accounts`` phished (any profession but billing staff), each searching on
    ``days`` consecutive days from ``start_day`` (counted from the period's start; negative
    counts from its end), about ``searches_per_day`` searches a day (0.6x to 1.4x) in 1 to
    ``sessions_per_day`` sessions between 8:00 and 21:00 Paris time, ``median_gap_s`` seconds
    apart (log-normal, 8 s to 5 min); each lists ``min_listed`` to 20 (a portal page,
    `rempart.events.RESULTS_MAX`) people, and ``read_share`` of them are followed by opening
    one listed person's record."""

    accounts: int = 3
    start_day: int = -10
    days: int = 4
    searches_per_day: int = 40
    sessions_per_day: int = 3
    median_gap_s: float = 45.0
    min_listed: int = 6
    read_share: float = 0.1


def generate(context: AttackContext, params: SearchHarvest) -> None:
    """Write each thief's logins, searches and few reads into the context's buffer."""
    rng = context.rng(NAME)
    world = context.world
    professions = tuple(p for p in Profession if p is not Profession.BILLING)
    victims = context.take_victims(rng, params.accounts, professions)
    browsers = ordinary_browsers(rng, len(victims))
    lines = residential_addresses(world.network, rng, len(victims))
    # Every thief lists people nobody else listed, canaries aside (no search finds them).
    people = rng.permutation(np.flatnonzero(~world.subjects.canary))
    offset = 0
    pseudonym = world.subjects.pseudonym
    first_day = params.start_day % world.preset.days
    last_day = min(world.preset.days, first_day + params.days)
    for k, victim in enumerate(victims):
        attacker = f"{NAME}:{k:02d}"
        agent = str(browsers[k])
        times = _search_times(world.preset.start, first_day, last_day, params, rng)
        if len(times) == 0:
            continue
        listed = rng.integers(params.min_listed, RESULTS_MAX + 1, size=len(times))
        matches = listed + np.where(
            listed == RESULTS_MAX, rng.integers(0, _MORE_MATCHES + 1, size=len(times)), 0
        )
        ends = np.cumsum(listed)
        pages = np.split(people[offset : offset + int(ends[-1])], ends[:-1])
        offset += int(ends[-1])
        sessions = cut_sessions(times)
        ids = session_ids(len(sessions), rng)
        where = sessions.index
        common = {
            "account": victim.account,
            "ip": lines[k],
            "user_agent": agent,
            "label": NAME,
            "attacker": attacker,
        }
        context.events.add(
            time_us=times,
            kind=EventKind.SEARCH,
            session=ids[where],
            lookup=Lookup.SEARCH,
            result_count=matches,
            results=[tuple(pseudonym[page]) for page in pages],
            **common,
        )
        opened = np.flatnonzero(rng.random(len(times)) < params.read_share)
        chosen = np.array(
            [pages[i][int(rng.integers(0, len(pages[i])))] for i in opened], dtype=np.int64
        )
        context.events.add(
            time_us=times[opened] + rng.integers(*_READ_DELAY_S, size=len(opened)) * MICROS,
            kind=EventKind.RECORD_VIEW,
            session=ids[where[opened]],
            subject=pseudonym[chosen],
            lookup=Lookup.SEARCH,
            subject_department=world.subjects.department[chosen],
            **common,
        )
        emit_logins(
            context.events,
            account=victim.account,
            sessions=sessions,
            ids=ids,
            ip=np.full(len(sessions), lines[k], dtype=object),
            user_agent=np.full(len(sessions), agent, dtype=object),
            label=NAME,
            attacker=attacker,
            rng=rng,
            typo_share=0.0,
            logout_share=0.3,
        )


def _search_times(
    start: date, first_day: int, last_day: int, params: SearchHarvest, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """Sorted search times: each day's searches in a few human-paced runs, Paris time."""
    low = max(1, round(0.6 * params.searches_per_day))
    high = max(low, round(1.4 * params.searches_per_day))
    all_times: list[npt.NDArray[np.int64]] = []
    for day in range(first_day, last_day):
        midnight = day_start_us(_TIMEZONE, start + timedelta(days=day))
        count = int(rng.integers(low, high + 1))
        runs = min(count, int(rng.integers(1, params.sessions_per_day + 1)))
        sizes = rng.multinomial(count - runs, np.full(runs, 1 / runs)) + 1
        # Runs start in order through the day, an hour or more apart.
        span = (_WORKING[1] - _WORKING[0]) / runs
        for run, size in enumerate(sizes):
            gaps = np.clip(
                rng.lognormal(np.log(params.median_gap_s), _GAP_SIGMA, size=int(size) - 1),
                _MIN_GAP_S,
                _MAX_GAP_S,
            )
            offsets = np.concatenate([[0.0], np.cumsum(gaps)])
            room = max(0.0, span * 60 - float(offsets[-1]) - 3_600)
            begin = (_WORKING[0] + run * span) * 60 + float(rng.random()) * room
            all_times.append(midnight + ((begin + offsets) * MICROS).astype(np.int64))
    if not all_times:
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.concatenate(all_times))


SCENARIO = Scenario(NAME, SearchHarvest, generate)
