"""The phished scenario: thieves with a password only, working office hours from home lines."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pytest
from attack_world import attack_table, reduced_world

from rempart.directory import Profession
from rempart.ingestion import table_to_events
from rempart.testbed.attacks import phished
from rempart.testbed.attacks.infrastructure import robot_user_agents
from rempart.testbed.geography import NetworkKind, browser_user_agents
from rempart.testbed.world import World

NAME = phished.NAME
SEED = 1
PARAMS = phished.Phished(accounts=3)
PARIS = ZoneInfo("Europe/Paris")

Rows = list[dict[str, Any]]


_world = reduced_world
_generate = partial(attack_table, phished.SCENARIO)


@pytest.fixture(scope="module")
def built() -> tuple[World, pa.Table]:
    return _world(SEED)


@pytest.fixture(scope="module")
def table(built: tuple[World, pa.Table]) -> pa.Table:
    return _generate(*built, PARAMS)


@pytest.fixture(scope="module")
def by_attacker(table: pa.Table) -> dict[str, Rows]:
    groups: dict[str, Rows] = defaultdict(list)
    for row in table.to_pylist():
        groups[row["attacker"]].append(row)
    return groups


def _reads(rows: Rows) -> Rows:
    return [r for r in rows if r["kind"] == "record_view"]


def test_labels_and_attacker_ids(table: pa.Table, by_attacker: dict[str, Rows]) -> None:
    """Every event is labelled phished and carries one attacker id per phished account."""
    assert set(table.column("label").to_pylist()) == {NAME}
    assert sorted(by_attacker) == [f"{NAME}:{k:02d}" for k in range(PARAMS.accounts)]
    for rows in by_attacker.values():
        assert len({r["account"] for r in rows}) == 1


def test_events_validate_and_stay_inside_the_period(
    built: tuple[World, pa.Table], table: pa.Table
) -> None:
    """Every event is a valid portal event timed inside the simulated period."""
    world, _ = built
    start = datetime.combine(world.preset.start, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(world.end, datetime.min.time(), tzinfo=UTC)
    events = list(table_to_events(table.drop_columns(["label", "attacker"])))
    assert len(events) == table.num_rows
    assert all(start <= e.time < end for e in events)


def test_no_reset_no_credential_change_only_logins(by_attacker: dict[str, Rows]) -> None:
    """A phished password needs no reset: the only account events are logins and logouts."""
    for rows in by_attacker.values():
        kinds = {r["kind"] for r in rows}
        assert kinds <= {"login_success", "login_failure", "logout", "search", "record_view"}
        logins = {r["session"] for r in rows if r["kind"] == "login_success"}
        assert logins == {r["session"] for r in _reads(rows)}


def test_a_few_hundred_patients_per_account_over_days(
    built: tuple[World, pa.Table], by_attacker: dict[str, Rows]
) -> None:
    """Each account reads a few hundred people of its site's department, unknown to its
    practice, over several weekdays, and nobody is read twice."""
    world, _ = built
    accounts = {a.account: a for a in world.accounts}
    index = {p: i for i, p in enumerate(world.subjects.pseudonym)}
    everyone: list[int] = []
    for rows in by_attacker.values():
        victim = accounts[rows[0]["account"]]
        assert victim.profession is not Profession.BILLING
        site = world.site_by_id[victim.site]
        subjects = [index[r["subject"]] for r in _reads(rows)]
        everyone += subjects
        assert 150 <= len(subjects) <= 1.4 * PARAMS.reads_per_account
        assert set(world.subjects.department[subjects]) == {site.department}
        assert not np.isin(subjects, world.panels[site.site]).any()
        assert len({r["time"].astimezone(PARIS).date() for r in _reads(rows)}) >= 3
    assert len(set(everyone)) == len(everyone)


def test_weekday_office_hours_at_a_human_pace(by_attacker: dict[str, Rows]) -> None:
    """Reads fall on weekdays between 9:00 and 18:00 in Paris, outside the lunch break,
    tens of seconds apart, two sessions a day at most."""
    for rows in by_attacker.values():
        by_session: dict[str, list[datetime]] = defaultdict(list)
        for read in _reads(rows):
            local = read["time"].astimezone(PARIS)
            minute = local.hour * 60 + local.minute
            assert local.weekday() < 5
            assert any(o <= minute < c for o, c in phished.OFFICE_HOURS), local
            by_session[read["session"]].append(read["time"])
        gaps = [
            (b - a).total_seconds()
            for times in by_session.values()
            for a, b in zip(sorted(times), sorted(times)[1:], strict=False)
        ]
        assert min(gaps) >= 10
        assert 20 <= float(np.median(gaps)) <= 120
        per_day: dict[object, set[str]] = defaultdict(set)
        for read in _reads(rows):
            per_day[read["time"].astimezone(PARIS).date()].add(read["session"])
        assert max(len(s) for s in per_day.values()) <= 2


def test_ordinary_browser_from_french_home_lines(
    built: tuple[World, pa.Table], by_attacker: dict[str, Rows]
) -> None:
    """Each thief uses one professional's kind of browser and a few French home or mobile
    lines, never a scripting tool, a rented server or the site's line."""
    world, _ = built
    accounts = {a.account: a for a in world.accounts}
    browsers = {agent for agent, _ in browser_user_agents()}
    for rows in by_attacker.values():
        agents = {r["user_agent"] for r in rows}
        assert len(agents) == 1
        assert agents <= browsers
        assert not agents & set(robot_user_agents())
        addresses = {r["ip"] for r in rows}
        assert len(addresses) <= PARAMS.lines
        assert world.site_address[accounts[rows[0]["account"]].site] not in addresses
        for ip in addresses:
            network = world.network.lookup(ip)
            assert network is not None
            assert network.country == "FR"
            assert network.kind in (NetworkKind.FIXED, NetworkKind.MOBILE)
        sessions: dict[str, set[str]] = defaultdict(set)
        for r in rows:
            if r["session"]:
                sessions[r["session"]].add(r["ip"])
        assert all(len(ips) == 1 for ips in sessions.values())


def test_lookups_are_typed_nir_with_matching_birth_date_or_search(
    by_attacker: dict[str, Rows],
) -> None:
    """Reads use a typed NIR with the right birth date, or follow a name search."""
    for rows in by_attacker.values():
        reads = _reads(rows)
        assert {r["lookup"] for r in reads} == {"typed_nir", "search"}
        assert all(r["birth_date_match"] for r in reads if r["lookup"] == "typed_nir")
        searched = sum(r["lookup"] == "search" for r in reads)
        assert sum(r["kind"] == "search" for r in rows) == searched


def test_deterministic_for_a_seed(built: tuple[World, pa.Table], table: pa.Table) -> None:
    """The same world and parameters give identical events; another seed gives others."""
    assert _generate(*built, PARAMS).equals(table)
    assert not _generate(*_world(SEED + 1), PARAMS).equals(table)
