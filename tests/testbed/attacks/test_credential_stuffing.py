"""The credential-stuffing scenario: a spray of logins, a few successes, then scraping."""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from attack_world import attack_table, reduced_world

from rempart.errors import ConfigError
from rempart.ingestion import table_to_events
from rempart.testbed.attacks import credential_stuffing
from rempart.testbed.geography import NetworkKind
from rempart.testbed.world import World

NAME = credential_stuffing.NAME
SEED = 1
PARAMS = credential_stuffing.CredentialStuffing(attempts=3_000, successes=3)

Rows = list[dict[str, Any]]


_world = reduced_world
_generate = partial(attack_table, credential_stuffing.SCENARIO)


@pytest.fixture(scope="module")
def built() -> tuple[World, pa.Table]:
    return _world(SEED)


@pytest.fixture(scope="module")
def table(built: tuple[World, pa.Table]) -> pa.Table:
    return _generate(*built, PARAMS)


@pytest.fixture(scope="module")
def rows(table: pa.Table) -> Rows:
    return table.to_pylist()


def _of(rows: Rows, kind: str) -> Rows:
    return [r for r in rows if r["kind"] == kind]


def test_labels_and_attacker_ids(table: pa.Table, rows: Rows) -> None:
    """Every event is labelled; the spray is attacker 00, each takeover its own attacker."""
    assert set(table.column("label").to_pylist()) == {NAME}
    attackers = {r["attacker"] for r in rows}
    assert attackers == {f"{NAME}:{k:02d}" for k in range(PARAMS.successes + 1)}
    for k in range(1, PARAMS.successes + 1):
        mine = [r for r in rows if r["attacker"] == f"{NAME}:{k:02d}"]
        assert len({r["account"] for r in mine}) == 1


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


def test_attempts_in_a_few_hours_of_one_day_in_the_last_third(
    built: tuple[World, pa.Table], rows: Rows
) -> None:
    """All login attempts fall within ``hours`` hours of one day in the period's last third."""
    world, _ = built
    attempts = _of(rows, "login_failure") + _of(rows, "login_success")
    assert len(attempts) == PARAMS.attempts
    times = [r["time"] for r in attempts]
    assert max(times) - min(times) <= timedelta(hours=PARAMS.hours)
    assert len({t.date() for t in times}) == 1
    day = (times[0].date() - world.preset.start).days
    assert day >= 2 * world.preset.days // 3


def test_failures_spread_over_accounts(built: tuple[World, pa.Table], rows: Rows) -> None:
    """No login sees more than three failures; real and non-existent logins are both tried."""
    world, _ = built
    failures = Counter(r["account"] for r in _of(rows, "login_failure"))
    assert max(failures.values()) <= 3
    directory = {a.account for a in world.accounts}
    real = [a for a in failures if a in directory]
    unknown = [a for a in failures if a not in directory]
    assert len(real) >= 0.8 * len(directory) - PARAMS.successes
    assert unknown
    assert all(re.fullmatch(r"A9\d{5}", a) for a in unknown)


def test_many_addresses_of_many_kinds(built: tuple[World, pa.Table], rows: Rows) -> None:
    """Attempts come from hundreds of addresses: hosting, VPN and residential proxies."""
    world, _ = built
    addresses = {r["ip"] for r in _of(rows, "login_failure")}
    assert len(addresses) >= 300
    per_address = Counter(r["ip"] for r in _of(rows, "login_failure"))
    assert max(per_address.values()) <= 30
    networks = [world.network.lookup(ip) for ip in addresses]
    kinds = {n.kind for n in networks if n is not None}
    assert {NetworkKind.HOSTING, NetworkKind.VPN} <= kinds
    assert kinds & {NetworkKind.FIXED, NetworkKind.MOBILE}
    assert len({n.operator for n in networks if n is not None}) >= 10


def test_successes_followed_by_robot_reads(built: tuple[World, pa.Table], rows: Rows) -> None:
    """Exactly ``successes`` logins succeed, each from a stuffing address, then reads follow."""
    world, _ = built
    successes = _of(rows, "login_success")
    assert len(successes) == PARAMS.successes
    assert len({r["account"] for r in successes}) == PARAMS.successes
    stuffing_kinds = {NetworkKind.HOSTING, NetworkKind.VPN, NetworkKind.FIXED, NetworkKind.MOBILE}
    for login in successes:
        network = world.network.lookup(login["ip"])
        assert network is not None
        assert network.kind in stuffing_kinds
    index = {p: i for i, p in enumerate(world.subjects.pseudonym)}
    for login in successes:
        reads = [r for r in _of(rows, "record_view") if r["session"] == login["session"]]
        assert PARAMS.min_reads <= len(reads) <= PARAMS.max_reads
        assert all(r["account"] == login["account"] and r["ip"] == login["ip"] for r in reads)
        assert all(r["time"] > login["time"] for r in reads)
        assert {r["lookup"] for r in reads} == {"typed_nir"}
        subjects = [index[r["subject"]] for r in reads]
        assert len(set(subjects)) == len(subjects)
        assert not world.subjects.canary[subjects].any()
        gaps = np.diff(sorted(r["time"].timestamp() for r in reads))
        assert float(np.median(gaps)) < 5
    assert {r["session"] for r in _of(rows, "record_view")} == {r["session"] for r in successes}


def test_successful_login_is_the_last_try_of_its_account(rows: Rows) -> None:
    """A taken-over account's failed tries, if any, come before its successful login."""
    for login in _of(rows, "login_success"):
        tries = [r for r in _of(rows, "login_failure") if r["account"] == login["account"]]
        assert len(tries) <= 2
        assert all(r["time"] < login["time"] for r in tries)
        assert all(r["attacker"] == login["attacker"] for r in tries)


def test_deterministic_for_a_seed(built: tuple[World, pa.Table], table: pa.Table) -> None:
    """The same world and parameters give identical events; another seed gives others."""
    assert _generate(*built, PARAMS).equals(table)
    assert not _generate(*_world(SEED + 1), PARAMS).equals(table)


def test_too_many_attempts_for_the_login_space_is_a_config_error(
    built: tuple[World, pa.Table],
) -> None:
    """Asking for more attempts than unknown logins can absorb fails with a ConfigError."""
    with pytest.raises(ConfigError, match="attempts"):
        _generate(*built, dataclasses.replace(PARAMS, attempts=400_000))
