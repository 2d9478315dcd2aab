"""``residential-proxies``: many accounts, each under its hourly budget, through home lines.

The operation holds hundreds of stolen passwords (no reset: the passwords
themselves were stolen) and rents a residential proxy pool: its requests
leave from French home and mobile lines, a different one every one to
``reads_per_address`` reads, and since a portal session that changes network
mid-way is suspicious, it logs in afresh on each new exit (sticky sessions).
Each account presents one ordinary browser's user agent, drawn like the
professionals' own. Every account reads only about ``reads_per_account``
patients, and never more than ``reads_per_hour`` an hour (at least
``3600 / reads_per_hour`` seconds between two reads), below the guard's
hourly budget, during office hours on weekdays (9:00-18:00, Paris time),
continuing on the next weekday when the day ends. It reads residents of the
account's department whom its practice does not know, by typed NIR (with
the right birth date), and the campaign never reads the same person twice.
No rented server, no scripting tool, no address shared between accounts:
only the accounts' many new networks and the reads' lack of care evidence
give it away.
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
from rempart.testbed.sessions import IDLE_TIMEOUT_US

__all__ = ["SCENARIO", "WORKING_DAY", "ResidentialProxies"]

NAME = "residential-proxies"

WORKING_DAY: Final = (540, 1080)
"""The operation's working day, in minutes after local midnight: 9:00-18:00."""
_TIMEZONE: Final = "Europe/Paris"
_SPREAD: Final = 0.25  # an account reads between 0.75x and 1.25x ``reads_per_account``
_SLACK: Final = 1.4  # a pause lasts between 1x and 1.4x the hourly budget's interval
_RESUME_S: Final = 1_800.0  # the next weekday starts within half an hour of opening


@dataclass(frozen=True, slots=True)
class ResidentialProxies:
    """Parameters: ``accounts`` stolen (any profession but billing staff), each reading about
    ``reads_per_account`` patients (0.75x to 1.25x), at most ``reads_per_hour`` an hour,
    from a weekday drawn in the ``days``-day window from ``start_day`` (counted from the
    period's start; negative counts from its end); each proxy exit serves 1 to
    ``reads_per_address`` reads."""

    accounts: int = 200
    reads_per_account: int = 40
    reads_per_hour: int = 8
    start_day: int = -10
    days: int = 7
    reads_per_address: int = 3


def generate(context: AttackContext, params: ResidentialProxies) -> None:
    """Write every account's sticky sessions and reads into the context's buffer."""
    rng = context.rng(NAME)
    world = context.world
    professions = tuple(p for p in Profession if p is not Profession.BILLING)
    victims = context.take_victims(rng, params.accounts, professions)
    period_days = world.preset.days
    window_first = params.start_day % period_days
    window_days = max(1, min(params.days, period_days - window_first))
    low = max(1, int(np.ceil((1 - _SPREAD) * params.reads_per_account)))
    high = max(low, int((1 + _SPREAD) * params.reads_per_account))
    taken = np.zeros(len(world.subjects.pseudonym), dtype=bool)
    browsers = ordinary_browsers(rng, len(victims))
    for k, victim in enumerate(victims):
        attacker = f"{NAME}:{k:03d}"
        quota = int(rng.integers(low, high + 1))
        first = window_first + int(rng.integers(0, window_days))
        times = _paced_times(world.preset.start, first, period_days, quota, params, rng)
        patients = draw_strangers(world, world.site_by_id[victim.site], len(times), taken, rng)
        times = times[: len(patients)]
        if len(times) == 0:
            continue
        exit_of_read = _exits(times, params.reads_per_address, rng)
        exits = residential_addresses(world.network, rng, int(exit_of_read[-1]) + 1)
        browse(
            context.events,
            world,
            account=victim.account,
            times=times,
            patients=patients,
            searched=np.zeros(len(times), dtype=bool),
            streams=exit_of_read,
            ip=exits[exit_of_read],
            user_agent=np.full(len(times), browsers[k], dtype=object),
            label=NAME,
            attacker=attacker,
            rng=rng,
            logout_share=0.0,
        )


def _exits(
    times: npt.NDArray[np.int64], reads_per_address: int, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """The proxy exit of each read: a new one every 1 to ``reads_per_address`` reads, and
    after any pause the portal would end the session on (the next day's first read)."""
    sizes = rng.integers(1, reads_per_address + 1, size=len(times))
    breaks = np.zeros(len(times), dtype=bool)
    ends = np.cumsum(sizes)
    breaks[np.concatenate([[0], ends[ends < len(times)]])] = True
    breaks[1:] |= np.diff(times) > IDLE_TIMEOUT_US
    return np.cumsum(breaks) - 1


def _paced_times(
    start: date,
    first_day: int,
    period_days: int,
    count: int,
    params: ResidentialProxies,
    rng: np.random.Generator,
) -> npt.NDArray[np.int64]:
    """Up to ``count`` sorted read times on weekdays' working hours from ``first_day``.

    Two reads are at least ``3600 / reads_per_hour`` seconds apart, so any
    hour holds at most ``reads_per_hour + 1`` of them.
    """
    opens, closes = (minute * 60.0 for minute in WORKING_DAY)
    interval = 3_600.0 / params.reads_per_hour
    gaps = interval * rng.uniform(1.0, _SLACK, size=count)
    day = first_day
    clock = opens + float(rng.random()) * (closes - opens) / 2
    times: list[int] = []
    for gap in gaps:
        while day < period_days and (
            (start + timedelta(days=day)).weekday() >= 5 or clock > closes
        ):
            day += 1
            clock = opens + float(rng.random()) * _RESUME_S
        if day >= period_days:
            break
        times.append(day_start_us(_TIMEZONE, start + timedelta(days=day)) + int(clock * MICROS))
        clock += float(gap)
    return np.array(times, dtype=np.int64)


SCENARIO = Scenario(NAME, ResidentialProxies, generate)
