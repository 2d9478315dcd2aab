"""``credential-stuffing``: a leaked password list tried against the portal, then used.

For a few hours of one day, a stuffing tool replays ``attempts`` login/password
pairs from a combo list. Each login is tried one to three times (different
leaked passwords), from hundreds of addresses — rented servers and VPN exits
of many operators, and residential proxies — with rotating browser user
agents, so that neither an address nor an account sees more than a handful
of failures. Most logins of the portal's directory are in the list, along
with logins that do not exist (typos, old or closed accounts, written
``A9xxxxx``). For ``successes`` accounts a password still works: the login
succeeds from a stuffing address and the buyer of that account immediately
reads a few hundred random patients by typed NIR at a robot's pace in that
session.

Attacker ids: ``credential-stuffing:00`` is the spray itself (every attempt
on an account it never got into); ``credential-stuffing:01`` onwards each own
one taken-over account, its failed tries, its successful login and its reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from itertools import islice
from typing import Final

import numpy as np
import numpy.typing as npt

from rempart.errors import ConfigError
from rempart.events import EventKind, Lookup
from rempart.testbed.attacks import AttackContext, Scenario
from rempart.testbed.attacks.infrastructure import residential_addresses
from rempart.testbed.clock import MICROS, day_start_us
from rempart.testbed.geography import NetworkKind, NetworkTable, browser_user_agents
from rempart.testbed.sessions import session_ids

__all__ = ["SCENARIO", "CredentialStuffing"]

NAME = "credential-stuffing"

_DAY_US: Final = 86_400 * MICROS
_MAX_TRIES: Final = 3  # tries per login: one to three leaked passwords
_UNKNOWN_IDS: Final = 100_000  # ``A9`` and five digits


@dataclass(frozen=True, slots=True)
class CredentialStuffing:
    """Parameters: ``attempts`` login attempts in all, ``successes`` accounts taken over, on
    ``day`` (counted from the period's start; negative counts from its end) for ``hours``
    hours, from ``addresses`` addresses of which ``residential_share`` are residential
    proxies; ``directory_share`` of the directory's logins are in the list (the rest of the
    attempts go to logins that do not exist); each taken-over account then reads between
    ``min_reads`` and ``max_reads`` patients, ``mean_gap_s`` apart."""

    attempts: int = 60_000
    successes: int = 10
    day: int = -5
    hours: float = 4.0
    addresses: int = 500
    residential_share: float = 0.5
    directory_share: float = 0.9
    min_reads: int = 100
    max_reads: int = 400
    mean_gap_s: float = 1.5


def generate(context: AttackContext, params: CredentialStuffing) -> None:
    """Write the stuffing run, the successful logins and the reads into the context's buffer."""
    rng = context.rng(NAME)
    world = context.world
    victims = context.take_victims(rng, params.successes)
    victim_ids = {v.account for v in victims}
    others = np.array(
        [a.account for a in world.accounts if a.account not in victim_ids], dtype=object
    )
    listed = min(
        round(params.directory_share * len(others)),
        max(0, (params.attempts - _MAX_TRIES * len(victims)) // _MAX_TRIES),
    )
    known = rng.choice(others, size=listed, replace=False) if listed else others[:0]
    known_tries = rng.integers(1, _MAX_TRIES + 1, size=len(known))
    victim_tries = rng.integers(1, _MAX_TRIES + 1, size=len(victims))
    unknown, unknown_tries = _unknown_logins(
        params.attempts - int(known_tries.sum()) - int(victim_tries.sum()),
        {a.account for a in world.accounts},
        rng,
    )

    logins = np.concatenate([np.array([v.account for v in victims], dtype=object), known, unknown])
    tries = np.concatenate([victim_tries, known_tries, unknown_tries])
    owner = np.zeros(len(logins), dtype=np.int64)
    owner[: len(victims)] = np.arange(1, len(victims) + 1)
    account = np.repeat(logins, tries)
    attacker_index = np.repeat(owner, tries)
    n = len(account)

    day = params.day % world.preset.days
    day_start = day_start_us("UTC", world.preset.start) + day * _DAY_US
    length_us = int(params.hours * 3_600 * MICROS)
    window_start = day_start + int(rng.integers(0, max(1, _DAY_US - length_us - 3_600 * MICROS)))
    times = window_start + rng.integers(0, length_us, size=n)
    pool = _stuffing_addresses(world.network, rng, params.addresses, params.residential_share)
    ip = pool[rng.integers(0, len(pool), size=n)]
    agents = browser_user_agents()
    weights = np.array([w for _, w in agents])
    agent_names = np.array([a for a, _ in agents], dtype=object)
    agent = agent_names[rng.choice(len(agents), size=n, p=weights / weights.sum())]

    # A victim's attempts in time order; the last one is the password that works.
    order = np.lexsort((times, attacker_index))
    times, account, ip, agent, attacker_index = (
        times[order],
        account[order],
        ip[order],
        agent[order],
        attacker_index[order],
    )
    last = np.ones(n, dtype=bool)
    last[:-1] = attacker_index[1:] != attacker_index[:-1]
    success = last & (attacker_index > 0)
    attackers = np.array([f"{NAME}:{k:02d}" for k in range(len(victims) + 1)], dtype=object)
    context.events.add(
        time_us=times[~success],
        kind=EventKind.LOGIN_FAILURE,
        ip=ip[~success],
        account=account[~success],
        user_agent=agent[~success],
        label=NAME,
        attacker=attackers[attacker_index[~success]],
    )

    eligible = np.flatnonzero(~world.subjects.canary)
    period_end = day_start_us("UTC", world.preset.start) + world.preset.days * _DAY_US
    sessions = session_ids(int(success.sum()), rng)
    for k, where in enumerate(np.flatnonzero(success)):
        attacker = str(attackers[attacker_index[where]])
        login_us = int(times[where])
        add = partial(
            context.events.add,
            account=str(account[where]),
            label=NAME,
            attacker=attacker,
            ip=str(ip[where]),
            session=str(sessions[k]),
            user_agent=str(agent[where]),
        )
        add(time_us=np.array([login_us], dtype=np.int64), kind=EventKind.LOGIN_SUCCESS)
        count = int(rng.integers(params.min_reads, params.max_reads + 1))
        patients = rng.choice(eligible, size=min(count, len(eligible)), replace=False)
        gaps = (rng.exponential(params.mean_gap_s, size=len(patients)) + 0.3) * MICROS
        first_read = login_us + int(rng.integers(20, 300)) * MICROS
        read_times = first_read + np.cumsum(gaps).astype(np.int64)
        inside = read_times < period_end - 60 * MICROS
        patients, read_times = patients[inside], read_times[inside]
        add(
            time_us=read_times,
            kind=EventKind.RECORD_VIEW,
            subject=world.subjects.pseudonym[patients],
            lookup=Lookup.TYPED_NIR,
            subject_department=world.subjects.department[patients],
            birth_date_match=np.full(len(patients), True, dtype=object),
        )


def _unknown_logins(
    attempts: int, existing: set[str], rng: np.random.Generator
) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.int64]]:
    """Logins that do not exist (``A9xxxxx``) and their tries, ``attempts`` tries in all."""
    if attempts <= 0:
        return np.zeros(0, dtype=object), np.zeros(0, dtype=np.int64)
    tries = rng.integers(1, _MAX_TRIES + 1, size=attempts)
    cut = int(np.searchsorted(np.cumsum(tries), attempts))
    tries = tries[: cut + 1]
    tries[-1] -= int(tries.sum()) - attempts
    fresh = (f"A9{n:05d}" for n in rng.permutation(_UNKNOWN_IDS).tolist())
    logins = list(islice((login for login in fresh if login not in existing), len(tries)))
    if len(logins) < len(tries):
        raise ConfigError(
            f"{NAME}.attempts",
            f"at most about {_MAX_TRIES * len(logins)} attempts on unknown logins",
            attempts,
        )
    return np.array(logins, dtype=object), tries


def _stuffing_addresses(
    network: NetworkTable, rng: np.random.Generator, count: int, residential_share: float
) -> npt.NDArray[np.object_]:
    """Hosting and VPN addresses of every operator, mixed with residential proxies."""
    servers = [
        r for kind in (NetworkKind.HOSTING, NetworkKind.VPN) for r in network.ranges_of(kind)
    ]
    homes = round(residential_share * count)
    picks = rng.integers(0, len(servers), size=count - homes)
    rented = [network.sample_address(rng, servers[i]) for i in picks]
    proxies = residential_addresses(network, rng, homes)
    return np.concatenate([np.array(rented, dtype=object), proxies])


SCENARIO = Scenario(NAME, CredentialStuffing, generate)
