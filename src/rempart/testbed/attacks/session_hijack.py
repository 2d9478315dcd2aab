"""``session-hijack``: a session token stolen by an infostealer, replayed from elsewhere.

Malware on a professional's workstation copies the portal's session cookie
while the professional works. The attacker replays it from a rented server
or a line abroad: no login, no password, no MFA — it rides the open session.
For each of ``sessions`` victims, on a working day in the last half of the
period and during the site's opening hours, the attacker's client (a
scripting tool, or a browser other than the victim's) reads ``min_reads`` to
``max_reads`` distinct patients in under an hour: typed NIRs from a list,
and patients of the victim's own panel opened through the portal's links
(which care evidence may well explain).

Every attacker event carries one session id, drawn like any portal session
id. The victim's own sessions stay as the legitimate traffic generated them,
so in the event stream the stolen session id *first appears with the
attacker*: there is no login for it at all, and it comes from another
network and another user agent than the victim's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from rempart.events import EventKind, Lookup
from rempart.testbed.attacks import AttackContext, Scenario
from rempart.testbed.attacks.infrastructure import attacker_addresses, robot_user_agents
from rempart.testbed.clock import MICROS, day_start_us, draw_open_minutes
from rempart.testbed.geography import NetworkKind, browser_user_agents
from rempart.testbed.sessions import session_ids

__all__ = ["SCENARIO", "SessionHijack"]

NAME = "session-hijack"

_MIN_GAP_S = 0.3  # a script still waits for the page before asking for the next one


@dataclass(frozen=True, slots=True)
class SessionHijack:
    """Parameters: ``sessions`` stolen (one victim each), ``min_reads`` to ``max_reads``
    distinct patients read per stolen session, ``link_share`` of them opened through
    links to the victim's own panel (the rest by typed NIR), ``robot_share`` of
    attackers using a scripting tool (the others a browser unlike the victim's),
    ``mean_gap_s`` mean pause between two reads, ``max_minutes`` longest replay."""

    sessions: int = 5
    min_reads: int = 50
    max_reads: int = 300
    link_share: float = 0.3
    robot_share: float = 0.5
    mean_gap_s: float = 4.0
    max_minutes: float = 55.0


def generate(context: AttackContext, params: SessionHijack) -> None:
    """Write the replayed sessions into the context's buffer."""
    rng = context.rng(NAME)
    world = context.world
    subjects = world.subjects
    victims = context.take_victims(rng, params.sessions)
    tools = robot_user_agents()
    browsers = [agent for agent, _ in browser_user_agents()]
    anywhere = np.flatnonzero(~subjects.canary)
    for k, victim in enumerate(victims):
        attacker = f"{NAME}:{k}"
        site = world.site_by_id[victim.site]
        site_address = world.site_address[site.site]
        victim_agent = world.account_user_agent[victim.account]
        address = site_address
        while address == site_address:
            address = attacker_addresses(
                world.network, rng, 1, (NetworkKind.HOSTING, NetworkKind.FOREIGN_FIXED)
            )[0]
        if rng.random() < params.robot_share:
            agent = tools[int(rng.integers(0, len(tools)))]
        else:
            others = [b for b in browsers if b != victim_agent]
            agent = others[int(rng.integers(0, len(others)))]

        days = world.open_days(victim, world.preset.days // 2, world.preset.days - 1)
        day = days[int(rng.integers(0, len(days)))]
        date = world.preset.start + timedelta(days=day)
        minute = draw_open_minutes(site, np.array([date.weekday()], dtype=np.int64), rng)[0]
        replay = day_start_us(site.timezone, date) + int(minute * 60 * MICROS)

        n = int(rng.integers(params.min_reads, params.max_reads + 1))
        gaps = _MIN_GAP_S + rng.exponential(max(params.mean_gap_s - _MIN_GAP_S, 0.0), size=n)
        gaps[0] = 0.0
        offsets = np.cumsum(gaps)
        if offsets[-1] > params.max_minutes * 60:
            offsets *= params.max_minutes * 60 / offsets[-1]
        times = replay + (offsets * MICROS).astype(np.int64)

        panel = world.panels[site.site]
        by_link = rng.random(n) < params.link_share
        n_link = min(int(by_link.sum()), len(panel))
        by_link[np.flatnonzero(by_link)[n_link:]] = False
        read = np.empty(n, dtype=np.int64)
        read[by_link] = rng.choice(panel, size=n_link, replace=False)
        # Typed NIRs come from the attacker's list: anyone, but not twice the same patient.
        typed = rng.choice(anywhere, size=n, replace=False)
        typed = typed[~np.isin(typed, read[by_link])][: n - n_link]
        read[~by_link] = typed
        lookup = np.where(by_link, Lookup.LINK.value, Lookup.TYPED_NIR.value).astype(object)
        match = np.full(n, None, dtype=object)
        match[~by_link] = True

        context.events.add(
            time_us=times,
            kind=EventKind.RECORD_VIEW,
            ip=address,
            account=victim.account,
            session=session_ids(1, rng)[0],
            user_agent=agent,
            subject=subjects.pseudonym[read],
            lookup=lookup,
            subject_department=subjects.department[read],
            birth_date_match=match,
            label=NAME,
            attacker=attacker,
        )


SCENARIO = Scenario(NAME, SessionHijack, generate)
