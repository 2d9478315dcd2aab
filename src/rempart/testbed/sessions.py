"""Cutting a stream of actions into portal sessions, and the logins around them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rempart.events import EventKind
from rempart.testbed.clock import MICROS
from rempart.testbed.columns import EventBuffer

__all__ = ["IDLE_TIMEOUT_US", "Sessions", "cut_sessions", "emit_logins", "session_ids"]

IDLE_TIMEOUT_US = 45 * 60 * MICROS  # the portal logs a user out after 45 idle minutes

Int64s = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Sessions:
    """Sessions over sorted action times: ``index[i]`` is action i's session."""

    index: Int64s
    first_us: Int64s
    last_us: Int64s

    def __len__(self) -> int:
        return len(self.first_us)


def cut_sessions(times_us: Int64s, streams: Int64s | None = None) -> Sessions:
    """Sessions of actions sorted by time: a new one after an idle gap or on another stream.

    ``streams`` separates concurrent users of one account (two counters).
    """
    n = len(times_us)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Sessions(empty, empty, empty)
    if streams is None:
        streams = np.zeros(n, dtype=np.int64)
    order = np.lexsort((times_us, streams))
    sorted_times = times_us[order]
    sorted_streams = streams[order]
    breaks = np.ones(n, dtype=bool)
    breaks[1:] = (np.diff(sorted_times) > IDLE_TIMEOUT_US) | (np.diff(sorted_streams) != 0)
    sorted_index = np.cumsum(breaks) - 1
    index = np.empty(n, dtype=np.int64)
    index[order] = sorted_index
    count = int(sorted_index[-1]) + 1
    first = np.full(count, np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(count, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first, index, times_us)
    np.maximum.at(last, index, times_us)
    return Sessions(index, first, last)


def session_ids(count: int, rng: np.random.Generator) -> npt.NDArray[np.object_]:
    """Opaque session identifiers, as a portal would issue them."""
    raw = rng.integers(0, 2**63 - 1, size=count, dtype=np.int64)
    return np.array([f"{value:016x}" for value in raw], dtype=object)


def emit_logins(
    buffer: EventBuffer,
    *,
    account: str,
    sessions: Sessions,
    ids: npt.NDArray[np.object_],
    ip: npt.NDArray[np.object_],
    user_agent: npt.NDArray[np.object_],
    label: str,
    rng: np.random.Generator,
    typo_share: float,
    logout_share: float,
    attacker: str | None = None,
    hard_case: npt.NDArray[np.object_] | str | None = None,
) -> None:
    """Log in before each session (a typo first now and then), log out after some."""
    n = len(sessions)
    if n == 0:
        return
    login = sessions.first_us - rng.integers(10, 90, size=n) * MICROS
    common: dict[str, Any] = {"account": account, "label": label, "attacker": attacker}
    buffer.add(
        time_us=login,
        kind=EventKind.LOGIN_SUCCESS,
        ip=ip,
        session=ids,
        user_agent=user_agent,
        hard_case=hard_case,
        **common,
    )
    typo = rng.random(n) < typo_share
    buffer.add(
        time_us=login[typo] - rng.integers(8, 30, size=int(typo.sum())) * MICROS,
        kind=EventKind.LOGIN_FAILURE,
        ip=ip[typo],
        user_agent=user_agent[typo],
        hard_case=_pick(hard_case, typo),
        **common,
    )
    out = rng.random(n) < logout_share
    buffer.add(
        time_us=sessions.last_us[out] + rng.integers(60, 300, size=int(out.sum())) * MICROS,
        kind=EventKind.LOGOUT,
        ip=ip[out],
        session=ids[out],
        user_agent=user_agent[out],
        hard_case=_pick(hard_case, out),
        **common,
    )


def _pick(
    values: npt.NDArray[np.object_] | str | None, mask: npt.NDArray[np.bool_]
) -> npt.NDArray[np.object_] | str | None:
    if values is None or isinstance(values, str):
        return values
    return values[mask]
