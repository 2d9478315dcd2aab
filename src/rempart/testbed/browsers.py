"""Professionals' browsers updating during the period: a new major version every four weeks.

Chrome, Edge and Firefox ship a major version every four weeks, and each
device takes it at its own time (staggered rollouts, a browser restarted
days later), so over a month most of the user agents in a portal's log step
up once. Safari moves with the operating system, months apart; Samsung
Internet and Firefox ESR do not change major version within a month: those
keep their version here, and so do the devices whose updates are held back
(`UPDATING_SHARE` of the others update).

An account's own browser starts the period as ``World.account_user_agent``
and moves up one major version on each of its update days (`update_days`);
`user_agent_after` gives its user agent on any day of the period.

>>> chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/104.0.0.0 Safari/537.36"
>>> next_major(chrome)
'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/105.0.0.0 Safari/537.36'
>>> user_agent_after(chrome, (9,), 8) == chrome, user_agent_after(chrome, (9,), 9) == chrome
(True, False)
"""

from __future__ import annotations

from typing import Final

import numpy as np

__all__ = [
    "CYCLE_DAYS",
    "UPDATING_SHARE",
    "next_major",
    "rapid_release",
    "update_days",
    "user_agent_after",
]

CYCLE_DAYS: Final = 28
"""Days between two major versions of Chrome, Edge and Firefox (four-week cadence since 2021)."""
UPDATING_SHARE: Final = 0.7
"""Share of rapid-release browsers that take each new version within its cycle (*assumption*:
the rest are held back by their administrator or never restarted)."""

# Version numbers that a new major version moves up: the browser's own, and the engine's
# revision Firefox repeats (``rv:105.0``). Edge carries both ``Chrome/`` and ``Edg/``.
_VERSION_TOKENS: Final = ("Chrome/", "Edg/", "Firefox/", "rv:")
_HELD_BACK: Final = ("SamsungBrowser/", "OPR/", "Version/")  # Safari says ``Version/``
_FIREFOX_ESR: Final = frozenset({78, 91, 102, 115, 128})


def rapid_release(user_agent: str) -> bool:
    """Whether the browser takes a new major version every four weeks (Chrome, Edge, Firefox)."""
    if any(token in user_agent for token in _HELD_BACK):
        return False
    if "Firefox/" in user_agent:
        return _major(user_agent, "Firefox/") not in _FIREFOX_ESR
    return "Chrome/" in user_agent


def next_major(user_agent: str) -> str:
    """``user_agent`` one major version later: each version token's major number plus one.

    The rest of each version is kept as it was (``Chrome/100.0.4896.127`` becomes
    ``Chrome/101.0.4896.127``).
    """
    for token in _VERSION_TOKENS:
        major = _major(user_agent, token)
        if major is None:
            continue
        start = user_agent.index(token) + len(token)
        end = start + len(str(major))
        user_agent = user_agent[:start] + str(major + 1) + user_agent[end:]
    return user_agent


def update_days(user_agent: str, period_days: int, rng: np.random.Generator) -> tuple[int, ...]:
    """The period days on which this device's browser moves up a major version.

    The first update falls on a day drawn in the first cycle (never the first
    day, so the old version is seen), then one every `CYCLE_DAYS`; a device
    that is not rapid-release, or is held back, never updates.
    """
    first = int(rng.integers(1, CYCLE_DAYS))
    updating = bool(rng.random() < UPDATING_SHARE)
    if not (updating and rapid_release(user_agent)):
        return ()
    return tuple(range(first, period_days, CYCLE_DAYS))


def user_agent_after(user_agent: str, days: tuple[int, ...], day: int) -> str:
    """The user agent on period day ``day`` of a browser that updates on ``days``."""
    for update in days:
        if update > day:
            break
        user_agent = next_major(user_agent)
    return user_agent


def _major(user_agent: str, token: str) -> int | None:
    """The major version number right after ``token``, or None."""
    at = user_agent.find(token)
    if at < 0:
        return None
    start = end = at + len(token)
    while end < len(user_agent) and user_agent[end].isdigit():
        end += 1
    return int(user_agent[start:end]) if end > start else None
