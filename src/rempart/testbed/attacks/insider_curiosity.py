"""``insider-curiosity``: professionals looking up people they have no reason to read.

Nothing is stolen here. A legitimate professional, on their own account,
from their own site's line and their own browser, during opening hours on
days the site works, looks up a few people who are not their patients: a
celebrity, a neighbour, an ex, a relative's new partner. Over the period
each of ``insiders`` accounts reads ``min_reads`` to ``max_reads`` such
people, by typed NIR or by a name search: residents of their department
outside their site's panel, and now and then (``elsewhere_share``) someone
living in another department. No care evidence explains these reads, but
they are few, and every other signal of the account is that of its owner.

The portal's generated sessions cannot be joined afterwards, so each
curious look-up comes with a session and a login of its own, at a time the
professional is at work anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

import numpy as np
import numpy.typing as npt

from rempart.directory import Account
from rempart.events import EventKind, Lookup
from rempart.testbed.attacks import AttackContext, Scenario
from rempart.testbed.clock import MICROS, day_start_us, draw_open_minutes
from rempart.testbed.sessions import Sessions, cut_sessions, emit_logins, session_ids
from rempart.testbed.world import World

__all__ = ["SCENARIO", "InsiderCuriosity"]

NAME = "insider-curiosity"

# The owner's own habits, as in the legitimate traffic: a typo now and then, some logouts.
_TYPO_SHARE: Final = 0.04
_LOGOUT_SHARE: Final = 0.35


@dataclass(frozen=True, slots=True)
class InsiderCuriosity:
    """Parameters: ``insiders`` curious accounts, ``min_reads`` to ``max_reads`` people
    each reads over the period, ``elsewhere_share`` of them living in another department
    than the site's, ``search_share`` looked up by a name search (the others by typed NIR)."""

    insiders: int = 10
    min_reads: int = 3
    max_reads: int = 12
    elsewhere_share: float = 0.2
    search_share: float = 0.4


def generate(context: AttackContext, params: InsiderCuriosity) -> None:
    """Write each insider's curious look-ups into the context's buffer."""
    rng = context.rng(NAME)
    for k, insider in enumerate(context.take_victims(rng, params.insiders)):
        _curious_reads(context, insider, f"{NAME}:{k}", params, rng)


def _curious_reads(
    context: AttackContext,
    insider: Account,
    attacker: str,
    params: InsiderCuriosity,
    rng: np.random.Generator,
) -> None:
    world = context.world
    subjects = world.subjects
    site = world.site_by_id[insider.site]
    n = int(rng.integers(params.min_reads, params.max_reads + 1))
    people = _people_of_interest(world, site.site, site.department, n, params, rng)
    n = len(people)
    if n == 0:
        return

    days = np.array(world.open_days(insider, 0, world.preset.days - 1), dtype=np.int64)
    day = np.sort(days[rng.integers(0, len(days), size=n)])
    weekday = (np.int64(world.preset.start.weekday()) + day) % 7
    minutes = draw_open_minutes(site, weekday, rng)
    midnight = np.array(
        [day_start_us(site.timezone, world.preset.start + timedelta(days=int(d))) for d in day],
        dtype=np.int64,
    )
    times = midnight + (minutes * 60 * MICROS).astype(np.int64)
    order = np.argsort(times, kind="stable")
    times = times[order]
    people = people[order]

    searched = rng.random(n) < params.search_share
    search_times = times[searched] - rng.integers(5, 30, size=int(searched.sum())) * MICROS
    sessions = cut_sessions(times)
    ids = session_ids(len(sessions), rng)
    first = sessions.first_us.copy()
    np.minimum.at(first, sessions.index[searched], search_times)
    address = np.full(len(sessions), world.site_address[site.site], dtype=object)
    agent = np.full(len(sessions), world.account_user_agent[insider.account], dtype=object)
    birth_date_match = np.full(n, None, dtype=object)
    birth_date_match[~searched] = True

    context.events.add(
        time_us=search_times,
        kind=EventKind.SEARCH,
        ip=address[sessions.index[searched]],
        session=ids[sessions.index[searched]],
        user_agent=agent[sessions.index[searched]],
        lookup=Lookup.SEARCH,
        result_count=rng.integers(1, 9, size=int(searched.sum())),
        account=insider.account,
        label=NAME,
        attacker=attacker,
    )
    context.events.add(
        time_us=times,
        kind=EventKind.RECORD_VIEW,
        ip=address[sessions.index],
        session=ids[sessions.index],
        user_agent=agent[sessions.index],
        subject=subjects.pseudonym[people],
        lookup=np.where(searched, Lookup.SEARCH.value, Lookup.TYPED_NIR.value).astype(object),
        subject_department=subjects.department[people],
        birth_date_match=birth_date_match,
        account=insider.account,
        label=NAME,
        attacker=attacker,
    )
    emit_logins(
        context.events,
        account=insider.account,
        sessions=Sessions(sessions.index, first, sessions.last_us),
        ids=ids,
        ip=address,
        user_agent=agent,
        label=NAME,
        attacker=attacker,
        rng=rng,
        typo_share=_TYPO_SHARE,
        logout_share=_LOGOUT_SHARE,
    )


def _people_of_interest(
    world: World,
    site: str,
    department: str,
    n: int,
    params: InsiderCuriosity,
    rng: np.random.Generator,
) -> npt.NDArray[np.int64]:
    """``n`` distinct non-canary subjects outside the site's panel, mostly local residents."""
    subjects = world.subjects
    local = np.setdiff1d(world.residents[department], world.panels[site])
    elsewhere_count = int(rng.binomial(n, params.elsewhere_share))
    local_pick = rng.choice(local, size=min(n - elsewhere_count, len(local)), replace=False)
    elsewhere = np.flatnonzero((subjects.department != department) & ~subjects.canary)
    elsewhere_pick = rng.choice(
        elsewhere, size=min(n - len(local_pick), len(elsewhere)), replace=False
    )
    return np.concatenate([local_pick, elsewhere_pick]).astype(np.int64)


SCENARIO = Scenario(NAME, InsiderCuriosity, generate)
