"""The slow-drip scenario: a human-paced thief working inside the victim's opening hours."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pytest
from attack_world import attack_table, reduced_world

from rempart.directory import Profession
from rempart.ingestion import table_to_events
from rempart.testbed.attacks import slow_drip
from rempart.testbed.geography import NetworkKind
from rempart.testbed.world import World

NAME = slow_drip.NAME
SEED = 1
PARAMS = slow_drip.SlowDrip(accounts=3)

Rows = list[dict[str, Any]]


_world = reduced_world
_generate = partial(attack_table, slow_drip.SCENARIO)


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
    """Every event is labelled slow-drip and carries one attacker id per taken-over account."""
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


def test_victims_are_pharmacists_or_gps(
    built: tuple[World, pa.Table], by_attacker: dict[str, Rows]
) -> None:
    """Each attacker holds an individual pharmacist's or GP's account."""
    world, _ = built
    accounts = {a.account: a for a in world.accounts}
    for rows in by_attacker.values():
        victim = accounts[rows[0]["account"]]
        assert victim.profession in (Profession.PHARMACIST, Profession.GP)
        assert not victim.shared


def test_reads_fall_inside_the_sites_opening_hours(
    built: tuple[World, pa.Table], by_attacker: dict[str, Rows]
) -> None:
    """Every read happens while the victim's site is open, in the site's local time."""
    world, _ = built
    accounts = {a.account: a for a in world.accounts}
    for rows in by_attacker.values():
        site = world.site_by_id[accounts[rows[0]["account"]].site]
        for read in _reads(rows):
            local = read["time"].astimezone(ZoneInfo(site.timezone))
            minute = local.hour * 60 + local.minute
            assert site.is_open(weekday=local.weekday(), minute=minute), local


def test_reads_are_strangers_from_the_sites_department(
    built: tuple[World, pa.Table], by_attacker: dict[str, Rows]
) -> None:
    """Patients read live in the site's department, are outside its panel, never read twice."""
    world, _ = built
    accounts = {a.account: a for a in world.accounts}
    index = {p: i for i, p in enumerate(world.subjects.pseudonym)}
    for rows in by_attacker.values():
        site = world.site_by_id[accounts[rows[0]["account"]].site]
        subjects = [index[r["subject"]] for r in _reads(rows)]
        assert len(set(subjects)) == len(subjects)
        assert set(world.subjects.department[subjects]) == {site.department}
        assert not np.isin(subjects, world.panels[site.site]).any()
        assert not world.subjects.canary[subjects].any()


def test_daily_volume_is_modest_and_spans_the_last_two_weeks(
    built: tuple[World, pa.Table], by_attacker: dict[str, Rows]
) -> None:
    """No account reads more than the daily cap, and the reads start at ``start_day``."""
    world, _ = built
    accounts = {a.account: a for a in world.accounts}
    first_day = world.preset.start + timedelta(days=PARAMS.start_day % world.preset.days)
    for rows in by_attacker.values():
        zone = ZoneInfo(world.site_by_id[accounts[rows[0]["account"]].site].timezone)
        per_day: dict[date, int] = defaultdict(int)
        for read in _reads(rows):
            per_day[read["time"].astimezone(zone).date()] += 1
        assert max(per_day.values()) <= slow_drip.max_reads_per_day(PARAMS)
        assert min(per_day) >= first_day
        assert len(per_day) >= 8


def test_human_pace(by_attacker: dict[str, Rows]) -> None:
    """Reads in a session are tens of seconds to minutes apart, never machine-fast."""
    for rows in by_attacker.values():
        by_session: dict[str, list[datetime]] = defaultdict(list)
        for read in _reads(rows):
            by_session[read["session"]].append(read["time"])
        gaps = [
            (b - a).total_seconds()
            for times in by_session.values()
            for a, b in zip(sorted(times), sorted(times)[1:], strict=False)
        ]
        assert min(gaps) >= 10
        assert 20 <= float(np.median(gaps)) <= 300
        assert len(by_session) >= 10


def test_lookups_are_typed_nir_with_matching_birth_date_or_search(
    by_attacker: dict[str, Rows],
) -> None:
    """Reads use a typed NIR with the right birth date, or follow a name search."""
    for rows in by_attacker.values():
        lookups = {r["lookup"] for r in _reads(rows)}
        assert lookups == {"typed_nir", "search"}
        assert all(r["birth_date_match"] for r in _reads(rows) if r["lookup"] == "typed_nir")
        assert any(r["kind"] == "search" for r in rows)


def test_owner_browser_from_french_homes_never_the_site_line(
    built: tuple[World, pa.Table], by_attacker: dict[str, Rows]
) -> None:
    """Every event has the victim's own user agent and a French home or mobile address
    that is not the site's line and changes from day to day."""
    world, _ = built
    accounts = {a.account: a for a in world.accounts}
    for rows in by_attacker.values():
        account = rows[0]["account"]
        site_line = world.site_address[accounts[account].site]
        assert {r["user_agent"] for r in rows} == {world.account_user_agent[account]}
        assert site_line not in {r["ip"] for r in rows}
        for ip in {r["ip"] for r in rows}:
            network = world.network.lookup(ip)
            assert network is not None
            assert network.country == "FR"
            assert network.kind in (NetworkKind.FIXED, NetworkKind.MOBILE)
        days = {r["time"].date() for r in _reads(rows)}
        assert len({r["ip"] for r in _reads(rows)}) >= len(days) - 1


def test_takeover_by_password_reset_before_the_first_session(
    by_attacker: dict[str, Rows],
) -> None:
    """A reset request then a reset precede the first login; each session opens with a login."""
    for rows in by_attacker.values():
        ordered = sorted(rows, key=lambda r: r["time"])
        kinds = [r["kind"] for r in ordered]
        assert kinds[:2] == ["password_reset_request", "password_reset"]
        assert kinds.count("password_reset") == 1
        logins = {r["session"] for r in rows if r["kind"] == "login_success"}
        assert logins == {r["session"] for r in _reads(rows)}
        first_login = next(r["time"] for r in ordered if r["kind"] == "login_success")
        assert ordered[1]["time"] < first_login


def test_deterministic_for_a_seed(built: tuple[World, pa.Table], table: pa.Table) -> None:
    """The same world and parameters give identical events; another seed gives others."""
    assert _generate(*built, PARAMS).equals(table)
    assert not _generate(*_world(SEED + 1), PARAMS).equals(table)
