"""Moves that several attacks share: taking an account over by e-mail, and scraping.

Each writes labelled attacker events into an `EventBuffer`; scenarios differ
in whom they read, when, from where and with what, not in how a password
reset or a robot's session looks in the portal's log.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from rempart.events import EventKind, Lookup, Outcome
from rempart.testbed.clock import MICROS
from rempart.testbed.columns import EventBuffer
from rempart.testbed.sessions import Sessions, cut_sessions, emit_logins, session_ids
from rempart.testbed.world import World

__all__ = ["reset_password", "scrape"]


def reset_password(
    events: EventBuffer,
    *,
    account: str,
    at_us: int,
    ip: str,
    user_agent: str,
    label: str,
    attacker: str,
    rng: np.random.Generator,
    delay_s: tuple[int, int] = (60, 300),
) -> int:
    """Ask for a reset, then follow the e-mailed link ``delay_s`` later; returns the reset time.

    This is the 2022 takeover path: whoever reads the professional's mailbox
    owns the account.
    """
    reset_at = at_us + int(rng.integers(*delay_s)) * MICROS
    for kind, when in (
        (EventKind.PASSWORD_RESET_REQUEST, at_us),
        (EventKind.PASSWORD_RESET, reset_at),
    ):
        events.add(
            time_us=np.array([when], dtype=np.int64),
            kind=kind,
            ip=ip,
            user_agent=user_agent,
            account=account,
            label=label,
            attacker=attacker,
        )
    return reset_at


def scrape(
    events: EventBuffer,
    world: World,
    *,
    account: str,
    times: npt.NDArray[np.int64],
    patients: npt.NDArray[np.int64],
    stale: npt.NDArray[np.bool_],
    addresses: npt.NDArray[np.object_],
    user_agent: str,
    label: str,
    attacker: str,
    rng: np.random.Generator,
) -> Sessions:
    """A robot reading ``patients`` by typed NIR at ``times`` (sorted), logging in per session.

    Each session comes from one of ``addresses``; a ``stale`` NIR of the
    attacker's list is answered "not found". Returns the sessions.
    """
    sessions = cut_sessions(times)
    ids = session_ids(len(sessions), rng)
    ips = addresses[rng.integers(0, len(addresses), size=len(sessions))]
    found = ~stale
    common: dict[str, Any] = {
        "account": account,
        "label": label,
        "attacker": attacker,
        "user_agent": user_agent,
    }
    events.add(
        time_us=times[found],
        kind=EventKind.RECORD_VIEW,
        ip=ips[sessions.index[found]],
        session=ids[sessions.index[found]],
        subject=world.subjects.pseudonym[patients[found]],
        lookup=Lookup.TYPED_NIR,
        subject_department=world.subjects.department[patients[found]],
        birth_date_match=np.full(int(found.sum()), True, dtype=object),
        **common,
    )
    events.add(
        time_us=times[stale],
        kind=EventKind.RECORD_VIEW,
        ip=ips[sessions.index[stale]],
        session=ids[sessions.index[stale]],
        lookup=Lookup.TYPED_NIR,
        outcome=Outcome.NOT_FOUND,
        **common,
    )
    emit_logins(
        events,
        account=account,
        sessions=sessions,
        ids=ids,
        ip=ips,
        user_agent=np.full(len(sessions), user_agent, dtype=object),
        label=label,
        attacker=attacker,
        rng=rng,
        typo_share=0.0,
        logout_share=0.0,
    )
    return sessions
