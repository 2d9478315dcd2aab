"""Browsers that update: professionals' user agents move up a major version during the period."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import UTC, datetime
from functools import cache
from itertools import pairwise

import numpy as np
import pyarrow as pa

from rempart.pseudonym import Pseudonymizer
from rempart.testbed.browsers import (
    CYCLE_DAYS,
    next_major,
    rapid_release,
    update_days,
    user_agent_after,
)
from rempart.testbed.columns import EventBuffer, EvidenceBuffer
from rempart.testbed.geography import browser_user_agents
from rempart.testbed.presets import PRESETS
from rempart.testbed.seeds import stream
from rempart.testbed.simulate import key_for_seed
from rempart.testbed.traffic import generate_legitimate
from rempart.testbed.world import World, build_world
from rempart.useragent import browser_key

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/100.0.4896.127 Safari/537.36"
)
EDGE = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/105.0.0.0 Safari/537.36 Edg/105.0.1343.53"
)
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:105.0) Gecko/20100101 Firefox/105.0"
FIREFOX_ESR = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:91.0) Gecko/20100101 Firefox/91.0"
SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/15.6 Safari/605.1.15"
)


@cache
def _world(seed: int = 1) -> World:
    """The small preset cut to 20,000 subjects in one focus department, without attacks."""
    preset = dataclasses.replace(
        PRESETS["small"], subjects=20_000, focus_departments=("35",), attacks={}
    )
    world, _ = build_world(preset, seed, Pseudonymizer(key_for_seed(seed)))
    return world


def _legitimate(world: World) -> pa.Table:
    events = EventBuffer()
    generate_legitimate(world, events, EvidenceBuffer())
    table, _ = events.to_tables()
    return table


def test_a_new_major_version_moves_every_version_token() -> None:
    """Chrome, Edge and Firefox move up one major version in each token that carries it."""
    assert "Chrome/101.0.4896.127 " in next_major(CHROME)
    assert next_major(EDGE).endswith("Chrome/106.0.0.0 Safari/537.36 Edg/106.0.1343.53")
    assert "rv:106.0) Gecko/20100101 Firefox/106.0" in next_major(FIREFOX)
    assert user_agent_after(CHROME, (3, 31), 30) == next_major(CHROME)
    assert user_agent_after(CHROME, (3, 31), 31) == next_major(next_major(CHROME))
    assert user_agent_after(CHROME, (3, 31), 2) == CHROME


def test_only_rapid_release_browsers_update() -> None:
    """Safari, Samsung Internet and Firefox ESR keep their version over a month."""
    assert [rapid_release(a) for a in (CHROME, EDGE, FIREFOX)] == [True, True, True]
    assert [rapid_release(a) for a in (FIREFOX_ESR, SAFARI)] == [False, False]
    samsung = [a for a, _ in browser_user_agents() if "SamsungBrowser/" in a]
    assert samsung
    assert not any(rapid_release(a) for a in samsung)
    assert update_days(SAFARI, 91, stream(1, "test")) == ()


def test_updates_come_every_cycle_after_a_first_day_in_the_first_cycle() -> None:
    """Over 91 days an updating browser steps every four weeks, never on the first day."""
    schedules = [update_days(CHROME, 91, stream(1, "test", str(k))) for k in range(200)]
    stepping = [days for days in schedules if days]
    assert 0.55 <= len(stepping) / len(schedules) <= 0.85
    for days in stepping:
        assert 1 <= days[0] < CYCLE_DAYS
        assert all(b - a == CYCLE_DAYS for a, b in pairwise(days))
        assert days[-1] < 91 <= days[-1] + CYCLE_DAYS


def test_a_share_of_devices_updates_within_the_period() -> None:
    """In the small world most rapid-release devices, and no other, update once in 28 days."""
    world = _world()
    rapid = [a for a, agent in world.account_user_agent.items() if rapid_release(agent)]
    updated = [a for a, days in world.browser_updates.items() if days]
    assert set(updated) <= set(rapid)
    assert 0.5 <= len(updated) / len(rapid) <= 0.9
    assert all(len(world.browser_updates[a]) == 1 for a in updated)


def test_legitimate_sessions_show_the_old_then_the_new_version() -> None:
    """An updated account's own sessions carry the old version before its update day and the
    next major version from then on; its browser key never changes."""
    world = _world()
    table = _legitimate(world)
    start = datetime.combine(world.preset.start, datetime.min.time(), tzinfo=UTC)
    seen: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for row in table.select(["time", "account", "user_agent"]).to_pylist():
        seen[row["account"]][row["user_agent"]].append((row["time"] - start).days)
    checked = 0
    for account, days in world.browser_updates.items():
        if not days or account not in seen:
            continue
        old, new = world.account_user_agent[account], next_major(world.account_user_agent[account])
        assert browser_key(old) == browser_key(new)
        assert all(day < days[0] for day in seen[account].get(old, []))
        assert all(day >= days[0] for day in seen[account].get(new, []))
        checked += bool(seen[account].get(old)) and bool(seen[account].get(new))
    assert checked >= 20


def test_updates_change_nothing_but_user_agents() -> None:
    """Without the updates, legitimate traffic is identical but for user agents: calibration
    figures (reads, patients, evidence, sessions) cannot move."""
    world = _world()
    frozen = dataclasses.replace(world, browser_updates={})
    updated, plain = _legitimate(world), _legitimate(frozen)
    assert updated.drop_columns(["user_agent"]).equals(plain.drop_columns(["user_agent"]))
    changed = np.array(updated.column("user_agent").to_pylist()) != np.array(
        plain.column("user_agent").to_pylist()
    )
    assert 0.2 < changed.mean() < 0.8
