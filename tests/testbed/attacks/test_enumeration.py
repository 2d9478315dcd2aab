"""The enumeration scenario: a robot walking NIRs around a few leaked patients."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from attack_world import attack_table, reduced_world, with_traffic

from rempart.directory import Profession
from rempart.nir import make_nir, parse_nir, validate_nir
from rempart.testbed.attacks import enumeration
from rempart.testbed.attacks.infrastructure import robot_user_agents
from rempart.testbed.geography import NetworkKind
from rempart.testbed.world import World
from rempart.truth import LEGITIMATE

NAME = enumeration.NAME
SEED = 3
PARAMS = enumeration.Enumeration(attempts=5_000)


@dataclass(frozen=True)
class Run:
    """A reduced world, its legitimate traffic, and the scenario's events on top."""

    world: World
    identities: pa.Table
    events: list[dict[str, Any]]
    evidence_before: int
    evidence_after: int

    @property
    def attack(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["label"] != LEGITIMATE]

    @property
    def attempts(self) -> list[dict[str, Any]]:
        return [e for e in self.attack if e["kind"] == "record_view"]


def _attack_only() -> pa.Table:
    return attack_table(enumeration.SCENARIO, *reduced_world(SEED), PARAMS)


@pytest.fixture(scope="module")
def run() -> Run:
    world, identities = reduced_world(SEED)
    rows, before, after = with_traffic(enumeration.SCENARIO, world, identities, PARAMS)
    return Run(world, identities, rows, before, after)


def test_candidates_step_the_serial_around_the_leaked_nir() -> None:
    """Candidates keep sex, birth month and place, step the serial, and stay within 1..999."""
    leaked = make_nir(1, 1980, 5, "35238", 3)
    candidates = enumeration.candidate_nirs(leaked, 6)
    assert candidates[0] == leaked
    assert [parse_nir(c).serial for c in candidates[1:]] == [1, 2, 4, 5, 6, 7, 8, 9]
    assert all(validate_nir(c) == c and c[:10] == leaked[:10] for c in candidates)


def test_one_labelled_attacker_on_one_taken_over_account(run: Run) -> None:
    """All attacker events belong to one labelled attacker on one pharmacist or GP account."""
    assert {e["label"] for e in run.attack} == {NAME}
    assert {e["attacker"] for e in run.attack} == {f"{NAME}:0"}
    (account,) = {e["account"] for e in run.attack}
    professions = {a.account: a.profession for a in run.world.accounts}
    assert professions[account] in (Profession.PHARMACIST, Profession.GP)


def test_takeover_precedes_the_walk(run: Run) -> None:
    """A password reset from a hosting address with a robot agent, then a login, then the walk."""
    first: dict[str, datetime] = {}
    for event in run.attack:
        first.setdefault(event["kind"], event["time"])
    assert (
        first["password_reset_request"]
        < first["password_reset"]
        < first["login_success"]
        < first["record_view"]
    )
    tools = set(robot_user_agents())
    for event in run.attack:
        assert event["user_agent"] in tools
        network = run.world.network.lookup(event["ip"])
        assert network is not None
        assert network.kind is NetworkKind.HOSTING


def test_attempts_are_typed_nirs_mostly_not_found(run: Run) -> None:
    """Exactly ``attempts`` typed-NIR look-ups, most of which find nobody."""
    attempts = run.attempts
    assert len(attempts) == PARAMS.attempts
    assert {e["lookup"] for e in attempts} == {"typed_nir"}
    not_found = sum(e["outcome"] == "not_found" for e in attempts)
    assert not_found > 0.8 * len(attempts)


def test_data_returned_only_when_the_birth_date_matches(run: Run) -> None:
    """Success means a subject and a matching birth date; a wrong date names the record only."""
    for event in run.attempts:
        if event["outcome"] == "success":
            assert event["subject"] is not None
            assert event["birth_date_match"] is True
            assert event["categories"]
        elif event["subject"] is None:
            assert event["birth_date_match"] is None
            assert event["subject_department"] is None
        else:
            assert event["outcome"] == "not_found"
            assert event["birth_date_match"] is False
            assert not event["categories"]
    assert any(e["outcome"] == "not_found" and e["subject"] for e in run.attempts)


def test_subject_department_is_the_record_residence(run: Run) -> None:
    """A probed record carries its subject's residence department, and only then."""
    world = run.world
    department = dict(zip(world.subjects.pseudonym, world.subjects.department, strict=True))
    for event in run.attempts:
        expected = department[event["subject"]] if event["subject"] else None
        assert event["subject_department"] == expected


def test_probed_records_are_near_sequential_to_a_leaked_one(run: Run) -> None:
    """Each probed NIR neighbours a leaked one typed just before, whose birth date decides."""
    by_subject = {row["subject"]: row for row in run.identities.to_pylist()}
    attempts = run.attempts
    walk = PARAMS.walk
    for i, event in enumerate(attempts):
        if event["subject"] is None:
            continue
        record = by_subject[event["subject"]]
        serial = parse_nir(record["nir"]).serial
        leaked = [
            by_subject[e["subject"]]
            for e in attempts[max(0, i - 2 * walk) : i + 1]
            if e["outcome"] == "success"
            and by_subject[e["subject"]]["nir"][:10] == record["nir"][:10]
            and abs(parse_nir(by_subject[e["subject"]]["nir"]).serial - serial) <= walk
            and not by_subject[e["subject"]]["canary"]
        ]
        assert leaked, "a probed record far from every leaked NIR"
        if event["outcome"] == "not_found":
            assert all(seed["birth_date"] != record["birth_date"] for seed in leaked)


def test_walk_touches_canaries_placed_next_to_real_patients(run: Run) -> None:
    """The walk probes some canary records though no leaked patient is a canary."""
    canaries = set(run.world.subjects.pseudonym[run.world.subjects.canary].tolist())
    probed = [e for e in run.attempts if e["subject"] in canaries]
    assert probed
    assert all(e["outcome"] == "not_found" or e["birth_date_match"] for e in probed)


def test_fast_regular_pace_over_one_day_in_the_last_third(run: Run) -> None:
    """Attempts come every 0.4 to 3 seconds, within a day, in the period's last third."""
    world = run.world
    start = datetime.combine(world.preset.start, datetime.min.time(), tzinfo=UTC)
    end = datetime.combine(world.end, datetime.min.time(), tzinfo=UTC)
    times = [e["time"] for e in run.attempts]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert PARAMS.min_gap_s - 1e-5 <= min(gaps)
    assert max(gaps) <= PARAMS.max_gap_s + 1e-5
    assert times[-1] - times[0] < timedelta(days=1)
    assert times[0] >= start + timedelta(days=world.preset.days - world.preset.days // 3)
    assert all(start <= e["time"] < end for e in run.attack)


def test_no_care_evidence(run: Run) -> None:
    """The scenario adds no care evidence."""
    assert run.evidence_after == run.evidence_before


def test_same_seed_same_events() -> None:
    """Two runs from the same seed write identical attacker events."""
    assert _attack_only().equals(_attack_only())
