"""``incident-2022``: the AmeliPro takeover of March 2022, replayed.

Nineteen accounts (fifteen of them pharmacists) are taken over through their
mailboxes: the attacker asks for a password reset, follows the e-mailed link,
logs in from rented servers, and a robot reads patients by typed NIR, day and
night, aiming at ``target_reads`` patients in total (510,000 in the real case)
over ``days`` days. The real owners keep working on their accounts. A share
of the NIR list is stale and returns "not found".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rempart.directory import Profession
from rempart.testbed.attacks import AttackContext, Scenario
from rempart.testbed.attacks.infrastructure import attacker_addresses, robot_user_agents
from rempart.testbed.attacks.playbook import reset_password, scrape
from rempart.testbed.clock import MICROS, day_start_us

__all__ = ["SCENARIO", "Incident2022"]

NAME = "incident-2022"


@dataclass(frozen=True, slots=True)
class Incident2022:
    """Parameters: ``accounts`` taken over, ``pharmacists`` among them, ``target_reads``
    distinct patients aimed at, ``days`` of scraping from ``start_day`` (counted from the
    period's start; negative counts from its end), ``stale_share`` of NIRs not found,
    ``mean_gap_s`` mean pause between two robot reads."""

    accounts: int = 19
    pharmacists: int = 15
    target_reads: int = 510_000
    days: int = 4
    start_day: int = -9
    stale_share: float = 0.04
    mean_gap_s: float = 1.5


def generate(context: AttackContext, params: Incident2022) -> None:
    """Write the takeovers and the scraping into the context's buffer."""
    rng = context.rng(NAME)
    world = context.world
    victims = context.take_victims(rng, params.pharmacists, (Profession.PHARMACIST,))
    victims += context.take_victims(
        rng, params.accounts - params.pharmacists, (Profession.GP, Profession.NURSE)
    )
    eligible = np.flatnonzero(~world.subjects.canary)
    target = min(params.target_reads, len(eligible))
    patients = rng.permutation(eligible)[:target]
    shares = rng.dirichlet(np.full(len(victims), 20.0))
    quotas = np.floor(shares * target).astype(np.int64)
    quotas[0] += target - int(quotas.sum())
    servers = attacker_addresses(world.network, rng, 12)
    tools = robot_user_agents()
    first_day = params.start_day % world.preset.days
    start_of_attack = day_start_us("UTC", world.preset.start) + first_day * 86_400 * MICROS
    offset = 0
    for k, (victim, quota) in enumerate(zip(victims, quotas, strict=True)):
        attacker = f"{NAME}:{k:02d}"
        mine = patients[offset : offset + int(quota)]
        offset += int(quota)
        takeover = start_of_attack + int(rng.integers(0, 36 * 3_600)) * MICROS
        address = servers[rng.integers(0, len(servers), size=1)][0]
        tool = tools[int(rng.integers(0, len(tools)))]
        reset_at = reset_password(
            context.events,
            account=victim.account,
            at_us=takeover,
            ip=address,
            user_agent=tool,
            label=NAME,
            attacker=attacker,
            rng=rng,
        )
        # The robot scrapes in runs of a few hours, every day until its quota is read.
        gaps = (rng.exponential(params.mean_gap_s, size=len(mine)) + 0.3) * MICROS
        per_day = max(1, len(mine) // params.days)
        day_index = np.arange(len(mine)) // per_day
        run_start = reset_at + 600 * MICROS + day_index * 86_400 * MICROS
        within = np.zeros(len(mine), dtype=np.float64)
        for day in np.unique(day_index):
            where = day_index == day
            within[where] = np.cumsum(gaps[where])
        scrape(
            context.events,
            world,
            account=victim.account,
            times=run_start + within.astype(np.int64),
            patients=mine,
            stale=rng.random(len(mine)) < params.stale_share,
            addresses=servers,
            user_agent=tool,
            label=NAME,
            attacker=attacker,
            rng=rng,
        )


SCENARIO = Scenario(NAME, Incident2022, generate)
