"""The residential-proxies scenario: many accounts under their hourly budget, via home lines."""

from __future__ import annotations

from collections import Counter, defaultdict
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
from rempart.policy import Policy
from rempart.testbed.attacks import residential_proxies
from rempart.testbed.geography import NetworkKind, browser_user_agents
from rempart.testbed.world import World

NAME = residential_proxies.NAME
SEED = 1
PARAMS = residential_proxies.ResidentialProxies(accounts=20)
PARIS = ZoneInfo("Europe/Paris")

Rows = list[dict[str, Any]]


_world = reduced_world
_generate = partial(attack_table, residential_proxies.SCENARIO)


@pytest.fixture(scope="module")
def built() -> tuple[World, pa.Table]:
    return _world(SEED)


@pytest.fixture(scope="module")
def table(built: tuple[World, pa.Table]) -> pa.Table:
    return _generate(*built, PARAMS)


@pytest.fixture(scope="module")
def rows(table: pa.Table) -> Rows:
    return table.to_pylist()


@pytest.fixture(scope="module")
def by_attacker(rows: Rows) -> dict[str, Rows]:
    groups: dict[str, Rows] = defaultdict(list)
    for row in rows:
        groups[row["attacker"]].append(row)
    return groups


def _reads(rows: Rows) -> Rows:
    return [r for r in rows if r["kind"] == "record_view"]


def test_labels_and_one_attacker_per_account(table: pa.Table, by_attacker: dict[str, Rows]) -> None:
    """Every event is labelled residential-proxies, one attacker id per stolen account."""
    assert set(table.column("label").to_pylist()) == {NAME}
    assert sorted(by_attacker) == [f"{NAME}:{k:03d}" for k in range(PARAMS.accounts)]
    assert len({rows[0]["account"] for rows in by_attacker.values()}) == PARAMS.accounts
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


def test_every_account_stays_under_its_hourly_budget(
    built: tuple[World, pa.Table], by_attacker: dict[str, Rows]
) -> None:
    """No account reads as many patients as the default hourly budget in any 60 minutes,
    and none reads more than its quota."""
    world, _ = built
    accounts = {a.account: a for a in world.accounts}
    budget = Policy.default().budget
    for rows in by_attacker.values():
        victim = accounts[rows[0]["account"]]
        assert victim.profession is not Profession.BILLING
        hourly = budget.hour * getattr(budget.profession, victim.profession.value)
        times = np.array(sorted(r["time"].timestamp() for r in _reads(rows)))
        in_an_hour = np.searchsorted(times, times + 3_600, side="right") - np.arange(len(times))
        assert int(in_an_hour.max()) <= PARAMS.reads_per_hour + 1 < hourly
        assert len(times) <= 1.25 * PARAMS.reads_per_account


def test_weekday_working_hours(by_attacker: dict[str, Rows]) -> None:
    """Reads fall on weekdays between 9:00 and 18:00, Paris time."""
    opens, closes = residential_proxies.WORKING_DAY
    for rows in by_attacker.values():
        for read in _reads(rows):
            local = read["time"].astimezone(PARIS)
            assert local.weekday() < 5
            assert opens <= local.hour * 60 + local.minute <= closes, local


def test_a_new_home_line_every_few_reads_with_a_login_on_each(
    built: tuple[World, pa.Table], rows: Rows, by_attacker: dict[str, Rows]
) -> None:
    """Each proxy exit is a French home or mobile line serving 1 to ``reads_per_address``
    reads in one session opened by a login from it; exits are not shared between accounts."""
    world, _ = built
    for attacker_rows in by_attacker.values():
        reads = _reads(attacker_rows)
        per_address = Counter(r["ip"] for r in reads)
        assert max(per_address.values()) <= PARAMS.reads_per_address
        assert len(per_address) >= len(reads) / PARAMS.reads_per_address
        login_ip = {r["session"]: r["ip"] for r in attacker_rows if r["kind"] == "login_success"}
        assert all(login_ip[r["session"]] == r["ip"] for r in reads)
        assert len({r["session"] for r in reads}) == len(per_address)
    owners: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        owners[row["ip"]].add(row["account"])
    assert sum(len(accounts) > 1 for accounts in owners.values()) <= len(owners) // 100
    for ip in owners:
        network = world.network.lookup(ip)
        assert network is not None
        assert network.country == "FR"
        assert network.kind in (NetworkKind.FIXED, NetworkKind.MOBILE)


def test_ordinary_browsers_and_no_takeover_noise(by_attacker: dict[str, Rows]) -> None:
    """Each account shows one professional's kind of browser; no reset, no failed login."""
    browsers = {agent for agent, _ in browser_user_agents()}
    for rows in by_attacker.values():
        agents = {r["user_agent"] for r in rows}
        assert len(agents) == 1
        assert agents <= browsers
        assert {r["kind"] for r in rows} <= {"login_success", "login_failure", "record_view"}


def test_local_strangers_by_typed_nir_never_twice(
    built: tuple[World, pa.Table], rows: Rows, by_attacker: dict[str, Rows]
) -> None:
    """Patients live in the account's department, outside its panel, are looked up by typed
    NIR with the right birth date, and the campaign never reads anyone twice."""
    world, _ = built
    accounts = {a.account: a for a in world.accounts}
    index = {p: i for i, p in enumerate(world.subjects.pseudonym)}
    for attacker_rows in by_attacker.values():
        site = world.site_by_id[accounts[attacker_rows[0]["account"]].site]
        subjects = [index[r["subject"]] for r in _reads(attacker_rows)]
        assert set(world.subjects.department[subjects]) == {site.department}
        assert not np.isin(subjects, world.panels[site.site]).any()
    reads = _reads(rows)
    assert {(r["lookup"], r["birth_date_match"]) for r in reads} == {("typed_nir", True)}
    assert len({r["subject"] for r in reads}) == len(reads)


def test_deterministic_for_a_seed(built: tuple[World, pa.Table], table: pa.Table) -> None:
    """The same world and parameters give identical events; another seed gives others."""
    assert _generate(*built, PARAMS).equals(table)
    assert not _generate(*_world(SEED + 1), PARAMS).equals(table)
