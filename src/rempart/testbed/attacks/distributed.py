"""``distributed``: one operation spread thin over hundreds of taken-over accounts.

The attacker holds many stolen accounts (any profession but billing staff)
and asks each of them for only a little: about ``reads_per_account`` patients
over one to three days, well under what a per-account threshold would notice.
What gives the operation away is what the accounts share: every account is
taken over the same way (a password reset, then a login), all traffic comes
from one small pool of rented-server and VPN addresses (two or three
operators), every request carries a user agent of the same scripting tool,
the reads are machine-regular (a fixed interval with a few percent of
jitter), by typed NIR, of random people all over France, and the operation
never reads the same person twice — the NIR list is split between accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from rempart.directory import Profession
from rempart.errors import ConfigError
from rempart.testbed.attacks import AttackContext, Scenario
from rempart.testbed.attacks.infrastructure import attacker_addresses, robot_user_agents
from rempart.testbed.attacks.playbook import reset_password, scrape
from rempart.testbed.clock import MICROS, day_start_us

__all__ = ["SCENARIO", "Distributed"]

NAME = "distributed"

_DAY_US: Final = 86_400 * MICROS
_SPREAD: Final = 0.25  # an account reads between 0.75x and 1.25x ``reads_per_account``


@dataclass(frozen=True, slots=True)
class Distributed:
    """Parameters: ``accounts`` taken over, each reading about ``reads_per_account`` patients
    (drawn between 0.75x and 1.25x) over 1 to ``max_days_per_account`` consecutive days,
    starting on a day drawn in the ``days``-day window from ``start_day`` (counted from the
    period's start; negative counts from its end); ``addresses`` in the shared pool;
    ``interval_s`` between two reads with a relative ``jitter``; ``stale_share`` of the typed
    NIRs are not found."""

    accounts: int = 300
    reads_per_account: int = 60
    start_day: int = -10
    days: int = 7
    max_days_per_account: int = 3
    addresses: int = 8
    interval_s: float = 4.0
    jitter: float = 0.05
    stale_share: float = 0.02


def tool_family(user_agents: tuple[str, ...], rng: np.random.Generator) -> tuple[str, ...]:
    """The versions of one scripting tool (``curl/7.64.0``, ``curl/7.65.3``…), drawn at random.

    Tools are told apart by their product token; headless browsers, whose
    token is ``Mozilla``, are not a tool family of their own.
    """
    families: dict[str, list[str]] = {}
    for agent in user_agents:
        families.setdefault(agent.split("/", 1)[0], []).append(agent)
    usable = sorted(
        name for name, members in families.items() if len(members) > 1 and name != "Mozilla"
    )
    return tuple(families[usable[int(rng.integers(0, len(usable)))]])


def generate(context: AttackContext, params: Distributed) -> None:
    """Write every account's takeover and its few reads into the context's buffer."""
    rng = context.rng(NAME)
    world = context.world
    professions = tuple(p for p in Profession if p is not Profession.BILLING)
    victims = context.take_victims(rng, params.accounts, professions)
    low = max(1, int(np.ceil((1 - _SPREAD) * params.reads_per_account)))
    high = max(low, int((1 + _SPREAD) * params.reads_per_account))
    quotas = rng.integers(low, high + 1, size=len(victims))
    eligible = np.flatnonzero(~world.subjects.canary)
    if int(quotas.sum()) > len(eligible):
        raise ConfigError(
            f"{NAME}.reads_per_account", f"at most {len(eligible)} reads in all", int(quotas.sum())
        )
    patients = rng.choice(eligible, size=int(quotas.sum()), replace=False)
    pool = attacker_addresses(world.network, rng, params.addresses)
    family = tool_family(robot_user_agents(), rng)
    period_days = world.preset.days
    window_first = params.start_day % period_days
    window_days = max(1, min(params.days, period_days - window_first))
    period_start = day_start_us("UTC", world.preset.start)
    period_end = period_start + period_days * _DAY_US
    offset = 0
    for k, (victim, quota) in enumerate(zip(victims, quotas, strict=True)):
        attacker = f"{NAME}:{k:03d}"
        mine = patients[offset : offset + int(quota)]
        offset += int(quota)
        tool = family[int(rng.integers(0, len(family)))]
        span = int(rng.integers(1, params.max_days_per_account + 1))
        first = window_first + int(rng.integers(0, window_days))
        span = max(1, min(span, period_days - first))
        times = _robot_times(period_start + first * _DAY_US, span, len(mine), params, rng)
        times = np.minimum(times, period_end - 60 * MICROS)

        takeover = max(
            period_start + 60 * MICROS,
            int(times[0]) - int(rng.integers(10 * 60, 60 * 60)) * MICROS,
        )
        reset_password(
            context.events,
            account=victim.account,
            at_us=takeover,
            ip=pool[int(rng.integers(0, len(pool)))],
            user_agent=tool,
            label=NAME,
            attacker=attacker,
            rng=rng,
            delay_s=(30, 240),
        )
        scrape(
            context.events,
            world,
            account=victim.account,
            times=times,
            patients=mine,
            stale=rng.random(len(mine)) < params.stale_share,
            addresses=pool,
            user_agent=tool,
            label=NAME,
            attacker=attacker,
            rng=rng,
        )


def _robot_times(
    first_midnight_us: int, days: int, count: int, params: Distributed, rng: np.random.Generator
) -> npt.NDArray[np.int64]:
    """``count`` sorted read times over ``days`` days: one machine-regular run a day."""
    per_day = np.array_split(np.arange(count), days)
    times = np.zeros(count, dtype=np.int64)
    for day, reads in enumerate(per_day):
        if len(reads) == 0:
            continue
        gaps = params.interval_s * (1 + params.jitter * rng.standard_normal(len(reads)))
        gaps = np.maximum(gaps, 0.5 * params.interval_s)
        gaps[0] = 0.0
        offsets = np.cumsum(gaps)
        latest_start = max(1.0, 86_400 - float(offsets[-1]) - 600)
        begin = 300 + float(rng.random()) * latest_start
        times[reads] = (
            first_midnight_us + day * _DAY_US + ((begin + offsets) * MICROS).astype(np.int64)
        )
    return times


SCENARIO = Scenario(NAME, Distributed, generate)
