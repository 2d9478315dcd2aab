"""The distributed scenario: many taken-over accounts, each reading a little, one tooling."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from attack_world import attack_table, reduced_world

from rempart.directory import Profession
from rempart.ingestion import table_to_events
from rempart.testbed.attacks import distributed
from rempart.testbed.attacks.infrastructure import robot_user_agents
from rempart.testbed.geography import NetworkKind
from rempart.testbed.world import World

NAME = distributed.NAME
SEED = 1
PARAMS = distributed.Distributed(accounts=25, reads_per_account=40)

Rows = list[dict[str, Any]]


_world = reduced_world
_generate = partial(attack_table, distributed.SCENARIO)


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
    """Every event is labelled distributed; each attacker id holds exactly one account."""
    assert set(table.column("label").to_pylist()) == {NAME}
    assert len(by_attacker) == PARAMS.accounts
    assert all(a.startswith(f"{NAME}:") for a in by_attacker)
    accounts = {next(iter({r["account"] for r in rs})) for rs in by_attacker.values()}
    assert all(len({r["account"] for r in rs}) == 1 for rs in by_attacker.values())
    assert len(accounts) == PARAMS.accounts


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


def test_victims_are_individual_non_billing_accounts(
    built: tuple[World, pa.Table], rows: Rows
) -> None:
    """Victims are individual accounts of any profession except billing."""
    world, _ = built
    accounts = {a.account: a for a in world.accounts}
    victims = [accounts[a] for a in {r["account"] for r in rows}]
    assert all(v.profession is not Profession.BILLING and not v.shared for v in victims)
    assert len({v.profession for v in victims}) >= 3


def test_each_account_reads_a_little_over_one_to_three_days(
    by_attacker: dict[str, Rows],
) -> None:
    """Each account reads around ``reads_per_account`` patients within three days."""
    for rows in by_attacker.values():
        reads = _reads(rows)
        assert 0.75 * PARAMS.reads_per_account <= len(reads) <= 1.25 * PARAMS.reads_per_account
        times = [r["time"] for r in reads]
        assert (max(times) - min(times)).days < PARAMS.max_days_per_account


def test_no_subject_read_twice_across_the_campaign(
    built: tuple[World, pa.Table], rows: Rows
) -> None:
    """The campaign reads each person once at most, never a canary, all over France."""
    world, _ = built
    subjects = [r["subject"] for r in _reads(rows) if r["subject"] is not None]
    assert len(subjects) == len(set(subjects))
    index = {p: i for i, p in enumerate(world.subjects.pseudonym)}
    picked = [index[s] for s in subjects]
    assert not world.subjects.canary[picked].any()
    assert len(set(world.subjects.department[picked])) >= 30


def test_typed_nir_only(rows: Rows) -> None:
    """Every read is a typed NIR; found ones have the right birth date."""
    reads = _reads(rows)
    assert {r["lookup"] for r in reads} == {"typed_nir"}
    assert all(r["birth_date_match"] for r in reads if r["outcome"] == "success")


def test_shared_infrastructure(built: tuple[World, pa.Table], rows: Rows) -> None:
    """All accounts use a few hosting/VPN operators and one scripting tool family."""
    world, _ = built
    addresses = {r["ip"] for r in rows}
    assert len(addresses) <= PARAMS.addresses
    networks = [world.network.lookup(ip) for ip in addresses]
    assert all(n is not None and n.kind in (NetworkKind.HOSTING, NetworkKind.VPN) for n in networks)
    assert len({n.operator for n in networks if n is not None}) <= 3
    agents = {r["user_agent"] for r in rows}
    assert agents <= set(robot_user_agents())
    assert len({a.split("/", 1)[0] for a in agents}) == 1


def test_machine_regular_pacing(by_attacker: dict[str, Rows]) -> None:
    """Within a run, reads are spaced by the interval with only a few percent of jitter."""
    for rows in by_attacker.values():
        times = np.array(sorted(r["time"].timestamp() for r in _reads(rows)))
        gaps = np.diff(times)
        run = gaps[gaps < 600]
        assert abs(float(np.median(run)) - PARAMS.interval_s) < 0.1 * PARAMS.interval_s
        assert float(np.std(run)) < 0.15 * PARAMS.interval_s


def test_password_reset_then_login_per_account(by_attacker: dict[str, Rows]) -> None:
    """Each account is taken over by a reset request and a reset before its first login."""
    for rows in by_attacker.values():
        ordered = sorted(rows, key=lambda r: r["time"])
        assert [r["kind"] for r in ordered[:3]] == [
            "password_reset_request",
            "password_reset",
            "login_success",
        ]
        sessions = {r["session"] for r in rows if r["kind"] == "login_success"}
        assert sessions == {r["session"] for r in _reads(rows)}


def test_deterministic_for_a_seed(built: tuple[World, pa.Table], table: pa.Table) -> None:
    """The same world and parameters give identical events; another seed gives others."""
    assert _generate(*built, PARAMS).equals(table)
    assert not _generate(*_world(SEED + 1), PARAMS).equals(table)
