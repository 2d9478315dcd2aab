"""``slow-drip``: a patient thief who reads a few dozen patients a day, like a colleague would.

The attacker takes over a pharmacist's or a GP's account through its mailbox
(a password reset from a home connection), then works the way its owner
does: only while the owner's site is open, at a human pace (tens of seconds
to minutes between two reads), in a few sessions a day, with the owner's own
browser (same user agent), from French home or mobile lines that change from
day to day but are never the site's own line. It reads residents of the
site's department — plausible patients of that practice — who are not in
its panel, by typed NIR (with the right birth date) or by a name search, and
never twice the same one. Nothing a per-IP or per-account rate limit sees
stands out; only the reads' lack of any care evidence gives it away.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Final

import numpy as np
import numpy.typing as npt

from rempart.directory import Profession, Site
from rempart.events import EventKind, Lookup
from rempart.testbed.attacks import AttackContext, Scenario
from rempart.testbed.attacks.infrastructure import residential_addresses
from rempart.testbed.attacks.playbook import reset_password
from rempart.testbed.clock import MICROS, day_start_us
from rempart.testbed.sessions import cut_sessions, emit_logins, session_ids

__all__ = ["SCENARIO", "SlowDrip"]

NAME = "slow-drip"

_DAY_US: Final = 86_400 * MICROS
_LOW_DAY: Final = 0.6  # a working day reads between 0.6x and 1.6x ``reads_per_day``
_HIGH_DAY: Final = 1.6
_GAP_SIGMA: Final = 0.7  # log-normal spread of the pause between two reads
_MIN_GAP_S: Final = 12.0
_MAX_GAP_S: Final = 600.0
_SESSION_MARGIN_MIN: Final = 10.0  # minutes kept free between two sessions of a day
_PLACEMENT_TRIES: Final = 25
_EDGE_MIN: Final = 2.0


@dataclass(frozen=True, slots=True)
class SlowDrip:
    """Parameters: ``accounts`` taken over (pharmacists and GPs), reading from ``start_day``
    (counted from the period's start; negative counts from its end) to the period's end,
    about ``reads_per_day`` patients on each day the victim's site is open (drawn between
    0.6x and 1.6x), in 1 to ``sessions_per_day`` sessions, ``median_gap_s`` seconds apart
    (log-normal, 12 s to 10 min); ``search_share`` of the patients are found by a name
    search, the others by typed NIR."""

    accounts: int = 2
    start_day: int = -14
    reads_per_day: int = 25
    sessions_per_day: int = 3
    median_gap_s: float = 60.0
    search_share: float = 0.3


def max_reads_per_day(params: SlowDrip) -> int:
    """The most reads one taken-over account makes on one day."""
    return int(np.ceil(_HIGH_DAY * params.reads_per_day))


def generate(context: AttackContext, params: SlowDrip) -> None:
    """Write the takeovers and the daily reads into the context's buffer."""
    rng = context.rng(NAME)
    world = context.world
    victims = context.take_victims(rng, params.accounts, (Profession.PHARMACIST, Profession.GP))
    first_day = params.start_day % world.preset.days
    period_start = day_start_us("UTC", world.preset.start)
    period_end = period_start + world.preset.days * _DAY_US
    for k, victim in enumerate(victims):
        attacker = f"{NAME}:{k:02d}"
        site = world.site_by_id[victim.site]
        agent = world.account_user_agent[victim.account]
        times, day_of_read = _read_times(
            world.preset.start, site, first_day, world.preset.days, params, rng
        )
        # Hours that local time pushes outside the UTC period (overseas sites) are left out.
        inside = (times > period_start + 3_600 * MICROS) & (times < period_end - 600 * MICROS)
        times, day_of_read = times[inside], day_of_read[inside]
        if len(times) == 0:
            continue
        days = np.unique(day_of_read)
        home = _addresses_avoiding(context, rng, len(days) + 1, world.site_address[site.site])
        address_of_read = home[1:][np.searchsorted(days, day_of_read)]

        strangers = np.setdiff1d(world.residents[site.department], world.panels[site.site])
        patients = rng.choice(strangers, size=len(times), replace=len(times) > len(strangers))
        # A session never spans two days, so each keeps the address of its day.
        sessions = cut_sessions(times, day_of_read)
        ids = session_ids(len(sessions), rng)
        session_address = np.empty(len(sessions), dtype=object)
        session_address[sessions.index] = address_of_read
        add = partial(context.events.add, account=victim.account, label=NAME, attacker=attacker)

        takeover = max(
            period_start + 60 * MICROS,
            int(times[0]) - int(rng.integers(20 * 60, 180 * 60)) * MICROS,
        )
        reset_password(
            context.events,
            account=victim.account,
            at_us=takeover,
            ip=home[0],
            user_agent=agent,
            label=NAME,
            attacker=attacker,
            rng=rng,
            delay_s=(60, 600),
        )

        searched = rng.random(len(times)) < params.search_share
        lookup = np.where(searched, Lookup.SEARCH.value, Lookup.TYPED_NIR.value).astype(object)
        match = np.full(len(times), None, dtype=object)
        match[~searched] = True
        where = sessions.index[searched]
        add(
            time_us=times[searched] - rng.integers(3, 10, size=int(searched.sum())) * MICROS,
            kind=EventKind.SEARCH,
            ip=session_address[where],
            session=ids[where],
            user_agent=agent,
            lookup=Lookup.SEARCH,
            result_count=rng.integers(1, 6, size=int(searched.sum())),
        )
        add(
            time_us=times,
            kind=EventKind.RECORD_VIEW,
            ip=session_address[sessions.index],
            session=ids[sessions.index],
            user_agent=agent,
            subject=world.subjects.pseudonym[patients],
            lookup=lookup,
            subject_department=world.subjects.department[patients],
            birth_date_match=match,
        )
        emit_logins(
            context.events,
            account=victim.account,
            sessions=sessions,
            ids=ids,
            ip=session_address,
            user_agent=np.full(len(sessions), agent, dtype=object),
            label=NAME,
            attacker=attacker,
            rng=rng,
            typo_share=0.02,
            logout_share=0.4,
        )


def _read_times(
    start: date,
    site: Site,
    first_day: int,
    days: int,
    params: SlowDrip,
    rng: np.random.Generator,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Sorted read times inside the site's opening hours, and the period day of each."""
    open_weekdays = {interval.weekday for interval in site.hours}
    low = max(1, round(_LOW_DAY * params.reads_per_day))
    high = max(low, max_reads_per_day(params))
    all_times: list[npt.NDArray[np.int64]] = []
    all_days: list[npt.NDArray[np.int64]] = []
    for day in range(first_day, days):
        date_of_day = start + timedelta(days=day)
        weekday = date_of_day.weekday()
        if weekday not in open_weekdays:
            continue
        spans = [(i.opens, i.closes) for i in site.hours if i.weekday == weekday]
        count = int(rng.integers(low, high + 1))
        runs = min(count, int(rng.integers(1, params.sessions_per_day + 1)))
        sizes = rng.multinomial(count - runs, np.full(runs, 1 / runs)) + 1
        midnight = day_start_us(site.timezone, date_of_day)
        placed: list[tuple[float, float]] = []
        for size in sizes:
            offsets = _human_offsets_s(int(size), params.median_gap_s, rng)
            begin = _place(spans, offsets[-1] / 60, placed, rng)
            if begin is None:
                continue
            placed.append((begin, begin + offsets[-1] / 60))
            times = midnight + int(begin * 60 * MICROS) + (offsets * MICROS).astype(np.int64)
            all_times.append(times)
            all_days.append(np.full(len(times), day, dtype=np.int64))
    if not all_times:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    times = np.concatenate(all_times)
    order = np.argsort(times, kind="stable")
    return times[order], np.concatenate(all_days)[order]


def _human_offsets_s(
    count: int, median_gap_s: float, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """Seconds from a session's first read to each of its ``count`` reads, at a human pace."""
    gaps = np.clip(
        rng.lognormal(np.log(median_gap_s), _GAP_SIGMA, size=count - 1), _MIN_GAP_S, _MAX_GAP_S
    )
    return np.concatenate([[0.0], np.cumsum(gaps)])


def _place(
    spans: list[tuple[int, int]],
    minutes: float,
    placed: list[tuple[float, float]],
    rng: np.random.Generator,
) -> float | None:
    """A start minute for a session lasting ``minutes`` inside one span, clear of ``placed``.

    Two minutes stay free at each end of the span for the login before the first read.
    """
    fitting = [(o, c) for o, c in spans if c - o > minutes + 2 * _EDGE_MIN]
    if not fitting:
        return None
    room = np.array([c - o - minutes - 2 * _EDGE_MIN for o, c in fitting], dtype=np.float64)
    for _ in range(_PLACEMENT_TRIES):
        pick = int(rng.choice(len(fitting), p=room / room.sum()))
        begin = fitting[pick][0] + _EDGE_MIN + float(rng.random() * room[pick])
        end = begin + minutes
        if all(
            end + _SESSION_MARGIN_MIN < other_begin or begin > other_end + _SESSION_MARGIN_MIN
            for other_begin, other_end in placed
        ):
            return begin
    return None


def _addresses_avoiding(
    context: AttackContext, rng: np.random.Generator, count: int, avoided: str
) -> npt.NDArray[np.object_]:
    """``count`` French home or mobile addresses, none of them ``avoided``."""
    addresses = residential_addresses(context.world.network, rng, count)
    while (clash := addresses == avoided).any():
        addresses[clash] = residential_addresses(context.world.network, rng, int(clash.sum()))
    return addresses


SCENARIO = Scenario(NAME, SlowDrip, generate)
