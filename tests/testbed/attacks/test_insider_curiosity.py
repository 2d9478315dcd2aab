"""The insider-curiosity scenario: a few unjustified look-ups from the owner's own setup."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from attack_world import attack_table, reduced_world, with_traffic

from rempart.directory import Account
from rempart.testbed.attacks import insider_curiosity
from rempart.testbed.world import World
from rempart.truth import LEGITIMATE

NAME = insider_curiosity.NAME
SEED = 3
PARAMS = insider_curiosity.InsiderCuriosity()


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

    def account(self, events: list[dict[str, Any]]) -> Account:
        (account,) = {e["account"] for e in events}
        return next(a for a in self.world.accounts if a.account == account)


def _attack_only() -> pa.Table:
    return attack_table(insider_curiosity.SCENARIO, *reduced_world(SEED), PARAMS)


@pytest.fixture(scope="module")
def run() -> Run:
    world, identities = reduced_world(SEED)
    rows, before, after = with_traffic(insider_curiosity.SCENARIO, world, identities, PARAMS)
    return Run(world, rows, before, after)


def test_one_labelled_attacker_per_insider_account(run: Run) -> None:
    """Each of the ten insiders is one labelled attacker acting on one account of their own."""
    groups = run.by_attacker()
    assert sorted(groups) == sorted(f"{NAME}:{k}" for k in range(PARAMS.insiders))
    assert all(e["label"] == NAME for e in run.attack)
    accounts = [run.account(events).account for events in groups.values()]
    assert len(set(accounts)) == len(accounts)


def test_few_distinct_people_per_insider(run: Run) -> None:
    """Each insider reads 3 to 12 distinct people over the period, all successfully."""
    for events in run.by_attacker().values():
        reads = [e for e in events if e["kind"] == "record_view"]
        assert PARAMS.min_reads <= len(reads) <= PARAMS.max_reads
        assert len({e["subject"] for e in reads}) == len(reads)
        assert all(e["outcome"] == "success" for e in reads)
        assert {e["lookup"] for e in reads} <= {"typed_nir", "search"}


def test_people_read_are_outside_the_site_panel(run: Run) -> None:
    """Nobody an insider reads belongs to their site's panel, and no canary is read."""
    world = run.world
    index = {p: i for i, p in enumerate(world.subjects.pseudonym)}
    for events in run.by_attacker().values():
        panel = set(world.panels[run.account(events).site].tolist())
        for event in events:
            if event["kind"] == "record_view":
                subject = index[event["subject"]]
                assert subject not in panel
                assert not world.subjects.canary[subject]
                assert event["subject_department"] == world.subjects.department[subject]


def test_mostly_people_of_the_insider_department(run: Run) -> None:
    """Most people looked up live in the insider's department; a few live elsewhere."""
    world = run.world
    local = 0
    reads = [e for e in run.attack if e["kind"] == "record_view"]
    for events in run.by_attacker().values():
        department = world.site_by_id[run.account(events).site].department
        local += sum(
            e["subject_department"] == department for e in events if e["kind"] == "record_view"
        )
    assert 0.5 * len(reads) < local < len(reads)


def test_from_own_site_line_and_own_browser(run: Run) -> None:
    """Every insider event comes from their site's address and their usual user agent."""
    world = run.world
    for events in run.by_attacker().values():
        account = run.account(events)
        assert {e["ip"] for e in events} == {world.site_address[account.site]}
        assert {e["user_agent"] for e in events} == {world.account_user_agent[account.account]}


def test_reads_in_opening_hours_in_logged_in_sessions(run: Run) -> None:
    """Reads fall in the site's opening hours, each session opened by a login before it."""
    world = run.world
    for events in run.by_attacker().values():
        site = world.site_by_id[run.account(events).site]
        login = {e["session"]: e["time"] for e in events if e["kind"] == "login_success"}
        for event in events:
            if event["kind"] in ("record_view", "search"):
                assert login[event["session"]] < event["time"]
            if event["kind"] == "record_view":
                local = event["time"].astimezone(ZoneInfo(site.timezone))
                minute = local.hour * 60 + local.minute
                assert site.is_open(weekday=local.weekday(), minute=minute)


def test_inside_the_period_without_evidence(run: Run) -> None:
    """Every insider event falls inside the period and no care evidence is added."""
    world = run.world
    start = datetime.combine(world.preset.start, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(world.end, datetime.min.time(), tzinfo=UTC)
    assert all(start <= e["time"] < end for e in run.attack)
    assert run.evidence_after == run.evidence_before


def test_same_seed_same_events() -> None:
    """Two runs from the same seed write identical insider events."""
    assert _attack_only().equals(_attack_only())
