"""Moves of attackers who read through an ordinary browser, as a professional would.

`phished`, `residential-proxies` and `owner-pc-malware` show none of a
robot's tells (no scripting tool, no rented server): they log in, look a
patient up by typed NIR (with the right birth date) or by a name search,
and open the record. What differs between them is whom they read, when,
from where and with which browser; how one such session looks in the
portal's log is written here once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from rempart.directory import Site
from rempart.events import EventKind, Lookup
from rempart.testbed.clock import MICROS
from rempart.testbed.columns import EventBuffer
from rempart.testbed.geography import browser_user_agents
from rempart.testbed.sessions import cut_sessions, emit_logins, session_ids
from rempart.testbed.world import World

__all__ = ["browse", "draw_strangers", "ordinary_browsers"]

Int64s = npt.NDArray[np.int64]
Objects = npt.NDArray[np.object_]


def ordinary_browsers(rng: np.random.Generator, count: int) -> Objects:
    """``count`` user agents drawn like the professionals' own browsers (same list, same shares)."""
    agents = browser_user_agents()
    weights = np.array([weight for _, weight in agents])
    picks = rng.choice(len(agents), size=count, p=weights / weights.sum())
    return np.array([agents[i][0] for i in picks], dtype=object)


def draw_strangers(
    world: World,
    site: Site,
    count: int,
    taken: npt.NDArray[np.bool_],
    rng: np.random.Generator,
) -> Int64s:
    """Up to ``count`` residents of the site's department outside its panel, none in ``taken``.

    Plausible patients of that practice whom it has no reason to read;
    ``taken`` (one flag per subject) is updated, so a scenario never reads
    the same person twice across its accounts.
    """
    residents = world.residents[site.department]
    free = residents[~taken[residents] & ~np.isin(residents, world.panels[site.site])]
    picks = rng.choice(free, size=min(count, len(free)), replace=False)
    taken[picks] = True
    return picks


def browse(
    events: EventBuffer,
    world: World,
    *,
    account: str,
    times: Int64s,
    patients: Int64s,
    searched: npt.NDArray[np.bool_],
    streams: Int64s,
    ip: Objects,
    user_agent: Objects,
    label: str,
    attacker: str,
    rng: np.random.Generator,
    logout_share: float = 0.3,
) -> None:
    """Read ``patients`` at ``times`` (sorted), each after its search or by typed NIR.

    Reads of one stream (``streams``, one value per read) that are close in
    time share a session, opened by a login; ``ip`` and ``user_agent`` are
    given per read and must be the same for the reads of one stream and day.
    A searched patient is opened a few seconds after a name search.
    """
    n = len(times)
    if n == 0:
        return
    lead = np.where(searched, rng.integers(3, 10, size=n), 0) * MICROS
    sessions = cut_sessions(times - lead, streams)
    ids = session_ids(len(sessions), rng)
    session_ip = np.empty(len(sessions), dtype=object)
    session_ip[sessions.index] = ip
    session_agent = np.empty(len(sessions), dtype=object)
    session_agent[sessions.index] = user_agent
    common: dict[str, Any] = {"account": account, "label": label, "attacker": attacker}
    events.add(
        time_us=(times - lead)[searched],
        kind=EventKind.SEARCH,
        ip=ip[searched],
        session=ids[sessions.index[searched]],
        user_agent=user_agent[searched],
        lookup=Lookup.SEARCH,
        result_count=rng.integers(1, 6, size=int(searched.sum())),
        **common,
    )
    match = np.full(n, None, dtype=object)
    match[~searched] = True
    events.add(
        time_us=times,
        kind=EventKind.RECORD_VIEW,
        ip=ip,
        session=ids[sessions.index],
        user_agent=user_agent,
        subject=world.subjects.pseudonym[patients],
        lookup=np.where(searched, Lookup.SEARCH.value, Lookup.TYPED_NIR.value).astype(object),
        subject_department=world.subjects.department[patients],
        birth_date_match=match,
        **common,
    )
    emit_logins(
        events,
        sessions=sessions,
        ids=ids,
        ip=session_ip,
        user_agent=session_agent,
        rng=rng,
        typo_share=0.02,
        logout_share=logout_share,
        **common,
    )
