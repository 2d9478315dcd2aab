"""The search-harvest scenario: phished accounts listing people through the portal's search."""

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
from rempart.events import RESULTS_MAX
from rempart.ingestion import table_to_events
from rempart.testbed.attacks import search_harvest
from rempart.testbed.geography import NetworkKind, browser_user_agents
from rempart.testbed.world import World

NAME = search_harvest.NAME
SEED = 1
PARAMS = search_harvest.SearchHarvest(accounts=3)

Rows = list[dict[str, Any]]

_world = reduced_world
_generate = partial(attack_table, search_harvest.SCENARIO)


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


def _of(rows: Rows, kind: str) -> Rows:
    return [r for r in rows if r["kind"] == kind]


def test_labels_and_attacker_ids(table: pa.Table, by_attacker: dict[str, Rows]) -> None:
    """Every event is labelled search-harvest, one attacker id per phished account."""
    assert set(table.column("label").to_pylist()) == {NAME}
    assert sorted(by_attacker) == [f"{NAME}:{k:02d}" for k in range(PARAMS.accounts)]
    for rows in by_attacker.values():
        assert len({r["account"] for r in rows}) == 1


def test_events_validate_and_stay_inside_the_period(
    built: tuple[World, pa.Table], table: pa.Table
) -> None:
    """Every event, each search's listed people included, is a valid portal event in the period."""
    world, _ = built
    start = datetime.combine(world.preset.start, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(world.end, datetime.min.time(), tzinfo=UTC)
    events = list(table_to_events(table.drop_columns(["label", "attacker"])))
    assert len(events) == table.num_rows
    assert all(start <= e.time < end for e in events)
    assert sum(len(e.results) for e in events) > 1_000


def test_phished_password_no_reset_individual_clinicians(
    built: tuple[World, pa.Table], by_attacker: dict[str, Rows]
) -> None:
    """The thief only logs in (no reset, no typo): each session opens with a successful login,
    on an individual account of anyone but billing staff."""
    world, _ = built
    accounts = {a.account: a for a in world.accounts}
    for rows in by_attacker.values():
        victim = accounts[rows[0]["account"]]
        assert not victim.shared
        assert victim.profession is not Profession.BILLING
        assert {r["kind"] for r in rows} <= {"login_success", "search", "record_view", "logout"}
        logins = {r["session"] for r in _of(rows, "login_success")}
        assert logins == {r["session"] for r in rows if r["kind"] in ("search", "record_view")}


def test_ordinary_browser_on_a_french_home_or_mobile_line(
    built: tuple[World, pa.Table], by_attacker: dict[str, Rows]
) -> None:
    """Each thief uses one ordinary browser (from the professionals' list) and one French
    fixed or mobile line, never the victim's site line."""
    world, _ = built
    accounts = {a.account: a for a in world.accounts}
    browsers = {agent for agent, _ in browser_user_agents()}
    for rows in by_attacker.values():
        (agent,) = {r["user_agent"] for r in rows}
        assert agent in browsers
        (ip,) = {r["ip"] for r in rows}
        assert ip != world.site_address[accounts[rows[0]["account"]].site]
        network = world.network.lookup(ip)
        assert network is not None
        assert (network.country, network.kind in (NetworkKind.FIXED, NetworkKind.MOBILE)) == (
            "FR",
            True,
        )


def test_searches_list_pages_of_people_nobody_twice(
    built: tuple[World, pa.Table], table: pa.Table
) -> None:
    """Each search lists several people, up to a page, no more than it matched; nobody is
    listed twice over all thieves, and no canary is ever listed."""
    world, _ = built
    searches = _of(table.to_pylist(), "search")
    sizes = [len(r["results"]) for r in searches]
    assert min(sizes) >= PARAMS.min_listed
    assert max(sizes) == RESULTS_MAX
    assert all(r["result_count"] >= len(r["results"]) for r in searches)
    assert any(r["result_count"] > RESULTS_MAX for r in searches)
    listed = [p for r in searches for p in r["results"]]
    assert len(set(listed)) == len(listed)
    index = {p: i for i, p in enumerate(world.subjects.pseudonym)}
    assert not world.subjects.canary[[index[p] for p in listed]].any()


def test_few_reads_each_of_someone_just_listed(by_attacker: dict[str, Rows]) -> None:
    """Few searches lead to a record, and each record read is of someone a search of the same
    session listed a little earlier."""
    for rows in by_attacker.values():
        searches, reads = _of(rows, "search"), _of(rows, "record_view")
        assert 0 < len(reads) < 0.3 * len(searches)
        for read in reads:
            assert any(
                read["subject"] in s["results"]
                and s["session"] == read["session"]
                and 0 < (read["time"] - s["time"]).total_seconds() <= 60
                for s in searches
            )


def test_human_pace_during_the_thiefs_day(by_attacker: dict[str, Rows]) -> None:
    """Searches come seconds to minutes apart, between 8:00 and 21:00 Paris time, on
    ``days`` days."""
    paris = ZoneInfo("Europe/Paris")
    for rows in by_attacker.values():
        times = sorted(r["time"] for r in _of(rows, "search"))
        gaps = np.diff([t.timestamp() for t in times])
        assert gaps.min() >= 8
        assert 20 <= float(np.median(gaps)) <= 120
        local = [t.astimezone(paris) for t in times]
        assert all(8 <= t.hour < 21 for t in local)
        assert len({t.date() for t in local}) == PARAMS.days


def test_deterministic_for_a_seed(built: tuple[World, pa.Table], table: pa.Table) -> None:
    """The same world and parameters give identical events; another seed gives others."""
    assert _generate(*built, PARAMS).equals(table)
    assert not _generate(*_world(SEED + 1), PARAMS).equals(table)
