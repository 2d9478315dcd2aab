"""The session-hijack scenario: a stolen session replayed from another network, no login."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from attack_world import attack_table, reduced_world, with_traffic

from rempart.testbed.attacks import session_hijack
from rempart.testbed.geography import NetworkKind
from rempart.testbed.world import World
from rempart.truth import LEGITIMATE

PARAMS = session_hijack.SessionHijack()
NAME = session_hijack.NAME
SEED = 3


@dataclass(frozen=True)
class Run:
    """A reduced world, its legitimate traffic, and the scenario's events on top."""

    world: World
    events: list[dict[str, Any]]
    evidence_before: int
    evidence_after: int

    @property
    def attack(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["label"] != LEGITIMATE]

    def by_attacker(self) -> dict[str, list[dict[str, Any]]]:
        groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in self.attack:
            groups[event["attacker"]].append(event)
        return groups


def _attack_only() -> pa.Table:
    return attack_table(session_hijack.SCENARIO, *reduced_world(SEED), PARAMS)


@pytest.fixture(scope="module")
def run() -> Run:
    world, identities = reduced_world(SEED)
    rows, before, after = with_traffic(session_hijack.SCENARIO, world, identities, PARAMS)
    return Run(world, rows, before, after)


def test_one_attacker_per_stolen_session_all_labelled(run: Run) -> None:
    """Each of the default five stolen sessions is one labelled attacker on its own account."""
    groups = run.by_attacker()
    assert sorted(groups) == [f"{NAME}:{k}" for k in range(5)]
    assert all(e["label"] == NAME for e in run.attack)
    accounts = {next(iter({e["account"] for e in events})) for events in groups.values()}
    assert len(accounts) == 5
    assert all(len({e["account"] for e in events}) == 1 for events in groups.values())


def test_attacker_never_logs_in(run: Run) -> None:
    """The attacker rides the session: every attacker event is a record view, no login."""
    assert {e["kind"] for e in run.attack} == {"record_view"}


def test_one_session_that_first_appears_with_the_attacker(run: Run) -> None:
    """Each attacker uses exactly one session id, never seen in legitimate traffic."""
    legitimate = {e["session"] for e in run.events if e["label"] == LEGITIMATE}
    stolen = [{e["session"] for e in events} for events in run.by_attacker().values()]
    assert all(len(ids) == 1 for ids in stolen)
    assert len(set().union(*stolen)) == len(stolen)
    assert not set().union(*stolen) & legitimate


def test_from_another_network_and_another_user_agent(run: Run) -> None:
    """The replay comes from a hosting or foreign line, not the site's, with another agent."""
    by_id = {a.account: a for a in run.world.accounts}
    for events in run.by_attacker().values():
        account = by_id[events[0]["account"]]
        addresses = {e["ip"] for e in events}
        assert len(addresses) == 1
        (address,) = addresses
        assert address != run.world.site_address[account.site]
        network = run.world.network.lookup(address)
        assert network is not None
        assert network.kind in (NetworkKind.HOSTING, NetworkKind.FOREIGN_FIXED)
        assert {e["user_agent"] for e in events} != {run.world.account_user_agent[account.account]}


def test_many_patients_read_fast_in_under_an_hour(run: Run) -> None:
    """Each replay reads 50 to 300 distinct patients within an hour, by typed NIR or link."""
    for events in run.by_attacker().values():
        assert 50 <= len(events) <= 300
        assert len({e["subject"] for e in events}) == len(events)
        times = [e["time"] for e in events]
        assert max(times) - min(times) < timedelta(hours=1)
        assert all(e["outcome"] == "success" for e in events)
        assert {e["lookup"] for e in events} <= {"typed_nir", "link"}


def test_linked_patients_come_from_the_victim_panel(run: Run) -> None:
    """Patients opened through links belong to the victim site's panel."""
    world = run.world
    index = {p: i for i, p in enumerate(world.subjects.pseudonym)}
    by_id = {a.account: a for a in world.accounts}
    for event in run.attack:
        if event["lookup"] == "link":
            panel = set(world.panels[by_id[event["account"]].site].tolist())
            assert index[event["subject"]] in panel


def test_replay_starts_in_opening_hours_in_the_last_half(run: Run) -> None:
    """Each replay starts during the victim site's opening hours, in the period's last half."""
    world = run.world
    start = datetime.combine(world.preset.start, datetime.min.time(), tzinfo=UTC)
    by_id = {a.account: a for a in world.accounts}
    for events in run.by_attacker().values():
        first = min(e["time"] for e in events)
        assert first >= start + timedelta(days=world.preset.days // 2)
        site = world.site_by_id[by_id[events[0]["account"]].site]
        local = first.astimezone(ZoneInfo(site.timezone))
        assert site.is_open(weekday=local.weekday(), minute=local.hour * 60 + local.minute)


def test_inside_the_period_without_evidence(run: Run) -> None:
    """Every attacker event falls inside the period and no care evidence is added."""
    world = run.world
    start = datetime.combine(world.preset.start, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(world.end, datetime.min.time(), tzinfo=UTC)
    assert all(start <= e["time"] < end for e in run.attack)
    assert run.evidence_after == run.evidence_before


def test_same_seed_same_events() -> None:
    """Two runs from the same seed write identical attacker events."""
    assert _attack_only().equals(_attack_only())
