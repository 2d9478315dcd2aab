"""The evaluation's figures, each on a few hand-made events: exposure, detection, containment,
friction and the thieves, on a directory small enough to read at a glance (no simulation)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rempart.directory import Account, OpeningInterval, Profession, Site, SiteKind
from rempart.events import Event, EventKind, Lookup, Outcome
from rempart.evidence import CareEvidence, EvidenceKind
from rempart.guard.decision import Action, ActionKind, Decision, Verdict
from rempart.guard.knowledge import Knowledge
from rempart.replay import Thief, evaluate
from rempart.replay.evaluation import (
    DETECTION_HORIZON_S,
    DefenceReport,
    Report,
    _Attacker,
    _count_attack,
    _count_legitimate,
    _Legitimate,
    _legitimate_figures,
    _scenario_figures,
    _weekly_max,
    default_defences,
)
from rempart.testing import make_event, pseudonym_for

WEEK = 7 * 86_400.0
BASE = make_event().time


def _at(seconds: float, **fields: Any) -> Event:
    """An event ``seconds`` after the default time (a read of patient 1 unless told)."""
    return make_event(time=BASE + timedelta(seconds=seconds), **fields)


def _attack(
    attackers: dict[str, _Attacker],
    event: Event,
    *,
    attacker: str = "a1",
    scenario: str = "incident-2022",
    detected: bool = False,
    refused: bool = False,
) -> None:
    _count_attack(attackers, scenario, attacker, event, event.time.timestamp(), detected, refused)


# Containment, detection and exposure per scenario.


def test_one_uncontained_attacker_leaves_the_scenario_uncontained() -> None:
    """Of two attackers, one refused for good and one whose last look-up succeeded: the
    scenario's containment is unknown (null), its median is the contained one's, and only the
    contained attacker's account counts as contained."""
    attackers: dict[str, _Attacker] = {}
    _attack(attackers, _at(0, account="A1"), attacker="a1")
    _attack(attackers, _at(100, account="A1"), attacker="a1", refused=True)
    _attack(attackers, _at(10, account="A2"), attacker="a2")
    _attack(attackers, _at(20, account="A2"), attacker="a2", refused=True)
    _attack(attackers, _at(30, account="A2", subject=pseudonym_for(2)), attacker="a2")
    figures = _scenario_figures(attackers)["incident-2022"]
    assert figures["containment_s"] is None
    assert figures["containment_s_median"] == 100.0
    assert (figures["accounts"], figures["accounts_contained"]) == (2, 1)
    assert figures["attackers"] == 2


def test_containment_is_the_worst_attackers_time_to_the_last_refusal() -> None:
    """Every attacker contained: the worst time from its first look-up to the refusal after
    which nothing succeeded, and the median of them."""
    attackers: dict[str, _Attacker] = {}
    for name, start, refused_at in (("a1", 0, 50), ("a2", 10, 310), ("a3", 20, 120)):
        _attack(attackers, _at(start - 5, kind=EventKind.LOGIN_SUCCESS), attacker=name)
        _attack(attackers, _at(start), attacker=name)
        _attack(attackers, _at(refused_at - 1), attacker=name, refused=True)
        _attack(attackers, _at(refused_at - 0.5), attacker=name)  # a success: not yet contained
        _attack(attackers, _at(refused_at), attacker=name, refused=True)
        _attack(attackers, _at(refused_at + 5), attacker=name, refused=True)
    figures = _scenario_figures(attackers)["incident-2022"]
    assert figures["containment_s"] == 300.0
    assert figures["containment_s_median"] == 100.0
    assert figures["accounts"] == figures["accounts_contained"] == 1


def test_attackers_that_never_looked_anyone_up_are_not_counted_for_containment() -> None:
    """An attacker whose only events were logins counts as an attacker, not as a reading
    one: the scenario is contained when every reading attacker is."""
    attackers: dict[str, _Attacker] = {}
    _attack(attackers, _at(0), attacker="reader")
    _attack(attackers, _at(60), attacker="reader", refused=True)
    _attack(attackers, _at(5, kind=EventKind.LOGIN_FAILURE, account="A9"), attacker="sprayer")
    figures = _scenario_figures(attackers)["incident-2022"]
    assert figures["containment_s"] == 60.0
    assert (figures["attackers"], figures["accounts"], figures["lookups"]) == (2, 1, 2)


def test_detection_is_from_the_scenarios_first_event_and_per_attacker() -> None:
    """``detection_s`` runs from the scenario's first event to its first detection;
    ``detection_s_worst`` is the slowest attacker from its own first event; an attacker never
    detected counts in neither."""
    attackers: dict[str, _Attacker] = {}
    _attack(attackers, _at(0), attacker="a1")
    _attack(attackers, _at(40), attacker="a1", detected=True)
    _attack(attackers, _at(100), attacker="a2")
    _attack(attackers, _at(400), attacker="a2", detected=True)
    _attack(attackers, _at(500), attacker="a2", detected=True)
    _attack(attackers, _at(20), attacker="a3")
    figures = _scenario_figures(attackers)["incident-2022"]
    assert figures["detection_s"] == 40.0
    assert figures["detection_s_worst"] == 300.0
    assert figures["attackers_detected"] == 2
    assert figures["attackers_detected_late"] == 0


def test_no_detection_and_no_lookup_give_nulls() -> None:
    """A scenario nobody detected and nobody read in has null times and no containment."""
    attackers: dict[str, _Attacker] = {}
    _attack(attackers, _at(0, kind=EventKind.LOGIN_FAILURE), attacker="a1")
    figures = _scenario_figures(attackers)["incident-2022"]
    assert figures["detection_s"] is None
    assert figures["detection_s_worst"] is None
    assert figures["containment_s"] is None
    assert figures["containment_s_median"] is None
    assert figures["exposed"] == figures["lookups"] == figures["accounts"] == 0


@pytest.mark.parametrize(
    ("delay", "in_time"),
    [
        (DETECTION_HORIZON_S - 1, True),
        (DETECTION_HORIZON_S, True),
        (DETECTION_HORIZON_S + 1, False),
    ],
)
def test_a_detection_after_the_horizon_is_late(delay: float, in_time: bool) -> None:
    """Detected up to the horizon after its first event, an attacker is detected; later, it
    is reported in ``attackers_detected_late`` and nowhere else."""
    attackers: dict[str, _Attacker] = {}
    _attack(attackers, _at(0))
    _attack(attackers, _at(delay), detected=True)
    _attack(attackers, _at(delay + 10), detected=True)
    figures = _scenario_figures(attackers)["incident-2022"]
    assert figures["attackers_detected"] == int(in_time)
    assert figures["attackers_detected_late"] == int(not in_time)
    assert figures["detection_s"] == (delay if in_time else None)


def test_exposure_counts_distinct_patients_of_allowed_reads_only() -> None:
    """Allowed reads expose their patient once however often read; refused reads, not-found
    look-ups and reads without a subject expose nobody; look-ups count them all."""
    attackers: dict[str, _Attacker] = {}
    _attack(attackers, _at(0, subject=pseudonym_for(1)))
    _attack(attackers, _at(1, subject=pseudonym_for(1)))
    _attack(attackers, _at(2, subject=pseudonym_for(2)))
    _attack(attackers, _at(3, subject=pseudonym_for(3)), refused=True)
    _attack(attackers, _at(4, subject=pseudonym_for(4), outcome=Outcome.NOT_FOUND))
    figures = _scenario_figures(attackers)["incident-2022"]
    assert figures["exposed"] == 2
    assert figures["reads_allowed"] == 3
    assert figures["lookups"] == 5
    assert figures["exposed_per_account_week_max"] == 2


def test_scenarios_are_reported_apart_and_in_order() -> None:
    """Each scenario's figures are its own attackers', scenarios sorted by name."""
    attackers: dict[str, _Attacker] = {}
    _attack(attackers, _at(0), attacker="z", scenario="slow-drip")
    _attack(attackers, _at(1, subject=pseudonym_for(5)), attacker="y", scenario="slow-drip")
    _attack(attackers, _at(2), attacker="b", scenario="distributed")
    figures = _scenario_figures(attackers)
    assert list(figures) == ["distributed", "slow-drip"]
    assert figures["slow-drip"]["exposed"] == 2
    assert figures["distributed"]["exposed"] == 1


# The worst week of one account.


def _exposures(*items: tuple[str, float, int]) -> list[tuple[str, float, str]]:
    return [(account, when, pseudonym_for(number)) for account, when, number in items]


def test_weekly_max_drops_an_exposure_exactly_a_week_old() -> None:
    """Two patients a week apart to the second are not in one 7-day window; a second less
    and they are."""
    assert _weekly_max(_exposures(("A1", 0.0, 1), ("A1", WEEK, 2))) == 1
    assert _weekly_max(_exposures(("A1", 0.0, 1), ("A1", WEEK - 1, 2))) == 2


def test_weekly_max_is_per_account_and_per_distinct_patient() -> None:
    """The worst account's distinct patients in a week: the same patient twice is one, two
    accounts' patients are not added up."""
    exposures = _exposures(
        ("A1", 0.0, 1),
        ("A1", 10.0, 1),
        ("A1", 20.0, 2),
        ("A2", 0.0, 3),
        ("A2", 5.0, 4),
        ("A2", 6.0, 5),
    )
    assert _weekly_max(exposures) == 3


def test_weekly_max_keeps_a_patient_read_again_inside_the_window() -> None:
    """A patient read at the start of a week and again later stays in the window when the
    first read leaves it."""
    exposures = _exposures(("A1", 0.0, 1), ("A1", 100.0, 1), ("A1", WEEK + 50, 2))
    assert _weekly_max(exposures) == 2
    assert _weekly_max([]) == 0


# Legitimate friction.


def _legit(
    state: _Legitimate,
    event: Event,
    *,
    hard_case: str | None = None,
    challenged: bool = False,
    refused: bool = False,
    taken_over: dict[str, float] | None = None,
) -> None:
    _count_legitimate(
        state, event, event.time.timestamp(), hard_case, challenged, refused, taken_over or {}
    )


def test_friction_counts_challenges_denials_and_hard_cases() -> None:
    """Challenges and refusals of legitimate events count, overall and for their hard case;
    professional days are account-days with a read."""
    state = _Legitimate()
    _legit(state, _at(0, account="A1"), challenged=True)
    _legit(state, _at(60, account="A1"), hard_case="locum", challenged=True, refused=True)
    _legit(state, _at(120, account="A1"), hard_case="locum")
    _legit(state, _at(86_400, account="A1", kind=EventKind.LOGIN_SUCCESS), refused=True)
    _legit(state, _at(86_400 * 2, account="A2"))
    figures = _legitimate_figures(state)
    assert figures["professional_days"] == 2
    assert figures["challenges"] == 2
    assert figures["challenges_per_1000_days"] == 1_000.0
    assert figures["denied"] == 2
    assert figures["hard_cases"] == {"locum": {"events": 2, "challenges": 1, "denied": 1}}
    assert figures["locked_accounts"] == 0


def test_the_owner_of_a_taken_over_account_leaves_friction_from_the_takeover() -> None:
    """An owner's events before the attacker's first success count; from that moment on
    (the same second included) they do not."""
    state = _Legitimate()
    taken = {"A1": BASE.timestamp() + 100}
    _legit(state, _at(99, account="A1"), challenged=True, taken_over=taken)
    _legit(state, _at(100, account="A1"), challenged=True, refused=True, taken_over=taken)
    _legit(state, _at(200, account="A1"), challenged=True, taken_over=taken)
    assert (state.challenges, state.denied) == (1, 0)


def test_no_professional_day_gives_no_rate() -> None:
    """With no professional day, the rate of challenges is 0, not a division by zero."""
    figures = _legitimate_figures(_Legitimate())
    assert figures["challenges_per_1000_days"] == 0.0
    assert figures["hard_cases"] == {}


# The whole evaluation, on a hand-made directory.


@dataclass
class Scripted:
    """A defence that answers each event as scripted by event id (allow otherwise) and
    records the step-ups and evidence it is told of."""

    verdicts: dict[str, Verdict]
    actions: dict[str, tuple[Action, ...]] = field(default_factory=dict)
    step_ups: list[tuple[str, bool]] = field(default_factory=list)
    observed: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)

    def decide(self, event: Event) -> Decision:
        self.order.append(event.event_id)
        return Decision(
            event_id=event.event_id,
            verdict=self.verdicts.get(event.event_id, Verdict.ALLOW),
            actions=self.actions.get(event.event_id, ()),
            time=event.time,
        )

    def step_up(self, event: Event, passed: bool) -> Decision:
        self.step_ups.append((event.event_id, passed))
        actions = () if passed else (Action(kind=ActionKind.LOCK_ACCOUNT, target="A2"),)
        verdict = Verdict.ALLOW if passed else Verdict.DENY
        return Decision(event_id=event.event_id, verdict=verdict, actions=actions, time=event.time)

    def observe(self, evidence: CareEvidence) -> None:
        self.order.append(f"evidence {evidence.subject}")
        self.observed.append(evidence.subject)


# event id, seconds, fields, label, attacker, hard case
_EVENTS: list[tuple[str, float, dict[str, Any], str, str | None, str | None]] = [
    ("e01", 0, {"account": "A1", "kind": "login_success"}, "legit", None, None),
    ("e02", 60, {"account": "A1", "subject": pseudonym_for(1)}, "legit", None, None),
    (
        "e03",
        120,
        {"account": "A2", "kind": "login_failure", "outcome": "failure"},
        "incident-2022",
        "x1",
        None,
    ),
    ("e04", 180, {"account": "A2", "subject": pseudonym_for(2)}, "legit", None, "locum"),
    ("e05", 240, {"account": "A2", "subject": pseudonym_for(3)}, "incident-2022", "x1", None),
    ("e06", 300, {"account": "A2", "subject": pseudonym_for(4)}, "legit", None, None),
    ("e07", 360, {"account": "A2", "subject": pseudonym_for(5)}, "incident-2022", "x1", None),
    ("e08", 420, {"account": "A3", "subject": pseudonym_for(6)}, "insider-curiosity", "x2", None),
    ("e09", 480, {"account": "A3", "subject": pseudonym_for(7)}, "legit", None, None),
    ("e10", 540, {"account": "A1", "subject": pseudonym_for(8)}, "legit", None, None),
]
_SCRIPT = {
    "e02": Verdict.CHALLENGE,  # an owner: passes
    "e04": Verdict.CHALLENGE,  # before the takeover (a failed login is not one): counts
    "e06": Verdict.CHALLENGE,  # after the attacker's first success: left out
    "e07": Verdict.CHALLENGE,  # the thief
    "e08": Verdict.CHALLENGE,  # an insider: passes with their own factor
    "e09": Verdict.CHALLENGE,  # the insider's own account is not taken over: counts
    "e10": Verdict.DENY,
}


def _write_jsonl(path: Path, records: list[Any]) -> None:
    path.write_bytes(b"".join(msgspec.json.encode(record) + b"\n" for record in records))


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    """A world of one site and three pharmacists, ten events with their truth, and one piece
    of care evidence observed between the first two events."""
    world = tmp_path / "world"
    world.mkdir()
    site = Site(
        site="S1",
        kind=SiteKind.PHARMACY,
        department="75",
        commune="75056",
        timezone="Europe/Paris",
        hours=(OpeningInterval(weekday=0, opens=420, closes=1320),),
    )
    _write_jsonl(world / "sites.jsonl", [site])
    _write_jsonl(
        world / "accounts.jsonl",
        [Account(account=f"A{n}", profession=Profession.PHARMACIST, site="S1") for n in (1, 2, 3)],
    )
    events = [
        _at(seconds, event_id=event_id, **fields) for event_id, seconds, fields, *_ in _EVENTS
    ]
    _write_jsonl(tmp_path / "events.jsonl", events)
    evidence = CareEvidence(
        time=BASE + timedelta(seconds=30),
        kind=EvidenceKind.CARD_READ,
        subject=pseudonym_for(1),
        site="S1",
    )
    _write_jsonl(tmp_path / "evidence.jsonl", [evidence])
    truth = pa.table(
        {
            "event_id": [row[0] for row in _EVENTS],
            "label": [row[3] for row in _EVENTS],
            "attacker": [row[4] for row in _EVENTS],
            "hard_case": [row[5] for row in _EVENTS],
        }
    )
    pq.write_table(truth, tmp_path / "truth.parquet")
    return tmp_path


def _evaluate(directory: Path, thief: Thief) -> tuple[Scripted, dict[str, Any], Report]:
    defence = Scripted(dict(_SCRIPT))
    report = evaluate(directory, defences=lambda _: [("scripted", defence)], thief=thief)
    return defence, report.to_dict()["defences"]["scripted"], report


def test_evaluate_answers_challenges_by_the_truth_with_a_failing_thief(directory: Path) -> None:
    """Owners and the insider pass their step-ups, the failing thief fails its own; evidence
    reaches the defence before the first event after it."""
    defence, _, report = _evaluate(directory, Thief.FAILS)
    assert defence.step_ups == [
        ("e02", True),
        ("e04", True),
        ("e06", True),
        ("e07", False),
        ("e08", True),
        ("e09", True),
    ]
    assert defence.order[:3] == ["e01", f"evidence {pseudonym_for(1)}", "e02"]
    assert (report.events, report.rejected, report.thief) == (10, 0, Thief.FAILS)
    assert _evaluate(directory, Thief.SILENT)[2].thief is Thief.SILENT


def test_evaluate_with_a_silent_thief_never_steps_it_up(directory: Path) -> None:
    """The silent thief's challenge reaches no step-up (and no lock from one); everyone else
    passes as before; the thief's read is refused either way."""
    defence, figures, _ = _evaluate(directory, Thief.SILENT)
    assert ("e07", False) not in defence.step_ups
    assert len(defence.step_ups) == 5
    assert figures["legitimate"]["locked_accounts"] == 0
    incident = figures["scenarios"]["incident-2022"]
    assert incident["accounts_contained"] == 1
    assert incident["exposed"] == 1


def test_evaluate_figures_on_the_hand_made_directory(directory: Path) -> None:
    """Exposure, containment and detection per scenario; friction counts the owners before
    the takeover and the insider's account, not the owner after it; the lock on the
    taken-over account is not a legitimate lock."""
    _, figures, _ = _evaluate(directory, Thief.FAILS)
    incident = figures["scenarios"]["incident-2022"]
    assert incident["exposed"] == 1
    assert incident["reads_allowed"] == 1
    assert incident["lookups"] == 2
    assert incident["detection_s"] == 240.0  # from its first event (e03) to e07's challenge
    assert incident["containment_s"] == 120.0  # from e05 to e07
    assert (incident["accounts"], incident["accounts_contained"]) == (1, 1)
    insider = figures["scenarios"]["insider-curiosity"]
    assert insider["exposed"] == 1  # the challenge was passed: the read went through
    assert insider["containment_s"] is None
    assert insider["detection_s"] == 0.0
    legitimate = figures["legitimate"]
    assert legitimate["challenges"] == 3  # e02, e04, e09 (not e06, after the takeover)
    assert legitimate["denied"] == 1  # e10
    assert legitimate["professional_days"] == 3  # A1, A2 and A3 each read that day
    assert legitimate["hard_cases"] == {"locum": {"events": 1, "challenges": 1, "denied": 0}}
    assert legitimate["locked_accounts"] == 0


def test_a_lock_of_an_account_nobody_took_over_is_a_legitimate_lock(directory: Path) -> None:
    """A lock action on an account no attacker succeeded on counts in ``locked_accounts``."""
    lock = (Action(kind=ActionKind.LOCK_ACCOUNT, target="A1"),)
    defence = Scripted(dict(_SCRIPT), actions={"e10": lock})
    report = evaluate(directory, defences=lambda _: [("scripted", defence)])
    assert report.to_dict()["defences"]["scripted"]["legitimate"]["locked_accounts"] == 1


def test_an_alert_on_an_allowed_event_is_a_detection(directory: Path) -> None:
    """An allowed attacker event that raised an alert detects its attacker."""
    alert = (Action(kind=ActionKind.ALERT, target="A2"),)
    defence = Scripted({}, actions={"e05": alert})
    report = evaluate(directory, defences=lambda _: [("scripted", defence)])
    incident = report.to_dict()["defences"]["scripted"]["scenarios"]["incident-2022"]
    assert incident["detection_s"] == 120.0
    assert incident["containment_s"] is None  # nothing was ever refused


def test_every_default_defence_gets_fresh_state(directory: Path) -> None:
    """The default defences are Rempart and the three baselines, in that order, and the
    report keeps that order; the guard gets the policy it is given."""
    from rempart.guard import Guard, Policy

    knowledge = Knowledge.from_world(directory / "world")
    strict = Policy.from_toml_text("[budget]\nhour = 4\n", source="test")
    defences = default_defences(knowledge, strict)
    assert [name for name, _ in defences] == [
        "rempart",
        "no-defence",
        "crowdsec-crawl",
        "account-rate-limit",
    ]
    guard = defences[0][1]
    assert isinstance(guard, Guard)
    assert guard.policy == strict
    report = evaluate(directory, knowledge_level="none")
    assert [d.name for d in report.defences] == [name for name, _ in defences]
    assert report.knowledge == "none"
    assert report.directory == str(directory)


def test_evaluate_reads_parquet_before_json_lines(directory: Path) -> None:
    """With both, ``events.parquet`` is the events file: a Parquet copy holding only the
    first event is the one replayed."""
    from rempart.ingestion import iter_records

    first = next(iter_records(directory / "events.jsonl", Event, []))
    table = pa.Table.from_pylist([first.to_dict()])
    pq.write_table(table, directory / "events.parquet")
    report = evaluate(directory, defences=lambda _: [("scripted", Scripted({}))])
    assert report.events == 1


# The report.


def _report(thief: Thief = Thief.SILENT) -> Report:
    row = {
        "exposed": 1234,
        "detection_s": 65.4,
        "containment_s": 300.4,
        "accounts_contained": 3,
        "accounts": 4,
        "exposed_per_account_week_max": 2500,
    }
    legitimate = {
        "challenges": 7,
        "professional_days": 12345,
        "challenges_per_1000_days": 0.567,
        "denied": 1,
        "locked_accounts": 2,
        "hard_cases": {
            "locum": {"events": 9, "challenges": 3, "denied": 1},
            "travel": {"events": 4, "challenges": 0, "denied": 0},
        },
    }
    defence = DefenceReport(name="rempart", scenarios={"slow-drip": row}, legitimate=legitimate)
    return Report(
        directory="out/s1",
        defences=[defence],
        events=1_500_000,
        rejected=2,
        thief=thief,
        knowledge="realistic",
    )


def test_render_is_one_table_per_defence() -> None:
    """The text report: a header naming the thief and the knowledge, then per defence a
    table, the legitimate friction and the hard cases."""
    assert _report().render().splitlines() == [
        "out/s1: 1,500,000 events (2 rejected), thief silent: never answers a challenge and "
        "keeps reading; network knowledge realistic",
        "",
        "== rempart",
        "scenario                 exposed   detect s  contain s  contained worst wk/acct",
        "slow-drip                  1,234         65        300        3/4         2,500",
        "legitimate: 7 challenges in 12,345 professional-days (0.57 per 1,000), 1 denied, "
        "2 accounts locked",
        "hard cases (challenges/denied): locum 3/1, travel 0/0",
    ]
    assert "thief fails: answers a challenge and fails it;" in _report(Thief.FAILS).render()
    never = DefenceReport(
        name="no-defence",
        scenarios={"x": {**_report().defences[0].scenarios["slow-drip"], "detection_s": None}},
        legitimate=_report().defences[0].legitimate,
    )
    row = Report(directory="d", defences=[never], events=0, rejected=0).render().splitlines()[4]
    assert row.split()[2:4] == ["never", "300"]


def test_to_dict_is_the_documented_json() -> None:
    """The JSON report's top-level keys and a defence's two parts."""
    report = _report()
    assert report.to_dict() == {
        "directory": "out/s1",
        "thief": "silent",
        "knowledge": "realistic",
        "events": 1_500_000,
        "rejected": 2,
        "defences": {
            "rempart": {
                "scenarios": report.defences[0].scenarios,
                "legitimate": report.defences[0].legitimate,
            }
        },
    }


# What evaluate reads, and what it hands the defences.


def test_evidence_at_an_events_time_reaches_the_defences_before_it(directory: Path) -> None:
    """Evidence is merged by time: every record up to an event's time, ties included, is
    observed before that event, and every later one before its own next event."""
    later = [
        CareEvidence(
            time=BASE + timedelta(seconds=seconds),
            kind=EvidenceKind.CARD_READ,
            subject=pseudonym_for(100 + n),
            site="S1",
        )
        for n, seconds in enumerate((30, 180, 180, 600))
    ]
    _write_jsonl(directory / "evidence.jsonl", later)
    defence = Scripted({})
    evaluate(directory, defences=lambda _: [("scripted", defence)])
    order = defence.order
    assert order.index(f"evidence {pseudonym_for(101)}") < order.index("e04")
    assert order.index(f"evidence {pseudonym_for(102)}") < order.index("e04")
    assert order.index("e03") < order.index(f"evidence {pseudonym_for(101)}")
    assert f"evidence {pseudonym_for(103)}" not in order  # after the last event


def test_no_evidence_at_all_is_fine(directory: Path) -> None:
    """An empty evidence file replays the events alone."""
    (directory / "evidence.jsonl").write_bytes(b"")
    defence = Scripted({})
    report = evaluate(directory, defences=lambda _: [("scripted", defence)])
    assert (report.events, defence.observed) == (10, [])


def test_bad_records_are_counted_not_replayed(directory: Path) -> None:
    """A bad line in the events or the evidence is counted as rejected and skipped."""
    with (directory / "events.jsonl").open("ab") as events:
        events.write(b'{"not": "an event"}\n')
    with (directory / "evidence.jsonl").open("ab") as evidence:
        evidence.write(b"not json\n")
    report = evaluate(directory, defences=lambda _: [("scripted", Scripted({}))])
    assert (report.events, report.rejected) == (10, 2)


def test_evaluate_hands_the_defences_its_network_table_and_policy(
    directory: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The defences get the network table given (else the world's); the default defences get
    the policy given; the report says the knowledge level, ``full`` unless told."""
    from rempart.guard import Policy
    from rempart.networks import NetworkTable
    from rempart.replay import evaluation

    seen: list[Knowledge] = []

    def capture(knowledge: Knowledge) -> list[tuple[str, Any]]:
        seen.append(knowledge)
        return [("scripted", Scripted({}))]

    table = NetworkTable(())
    report = evaluate(directory, defences=capture, networks=table)
    assert seen[0].networks is table
    assert report.knowledge == "full"
    policies: list[Policy | None] = []

    def defaults(knowledge: Knowledge, policy: Policy | None = None) -> list[tuple[str, Any]]:
        policies.append(policy)
        return [("scripted", Scripted({}))]

    monkeypatch.setattr(evaluation, "default_defences", defaults)
    strict = Policy.from_toml_text("[budget]\nhour = 1\n", source="test")
    evaluate(directory, policy=strict)
    assert policies == [strict]


def test_evaluate_reports_its_progress(directory: Path) -> None:
    """The progress reporter hears the events file being read."""
    heard: list[tuple[int, int]] = []

    def record(done: int, total: int, step: str = "") -> None:
        heard.append((done, total))

    evaluate(directory, defences=lambda _: [("scripted", Scripted({}))], progress=record)
    size = (directory / "events.jsonl").stat().st_size
    assert heard
    assert heard[-1] == (size, size)


def test_the_events_file_is_parquet_unless_only_json_lines_exist(tmp_path: Path) -> None:
    """``events.parquet`` is preferred, ``events.jsonl`` taken when alone, and with neither
    the Parquet name is the one reported missing."""
    from rempart.replay.evaluation import _events_file

    assert _events_file(tmp_path, "events") == tmp_path / "events.parquet"
    (tmp_path / "events.jsonl").write_bytes(b"")
    assert _events_file(tmp_path, "events") == tmp_path / "events.jsonl"
    (tmp_path / "events.parquet").write_bytes(b"")
    assert _events_file(tmp_path, "events") == tmp_path / "events.parquet"


def test_weekly_max_drops_every_exposure_older_than_the_week() -> None:
    """When a read comes a week after several, all of them leave the window at once."""
    exposures = _exposures(
        ("A1", 0.0, 1),
        ("A1", 1.0, 2),
        ("A1", 2.0, 3),
        ("A1", WEEK + 10, 4),
        ("A1", WEEK + 11, 5),
    )
    assert _weekly_max(exposures) == 3
    assert _weekly_max(exposures + _exposures(("A1", WEEK + 12, 6), ("A1", WEEK + 13, 7))) == 4


def test_professional_days_are_utc_days() -> None:
    """Reads a minute before and a minute after midnight UTC are two professional days; reads
    at 00:01 and 23:59 of one day are one."""
    midnight = BASE.replace(hour=0, minute=0) + timedelta(days=1)
    state = _Legitimate()
    for minutes in (-1, 1):
        event = make_event(time=midnight + timedelta(minutes=minutes), account="A1")
        _legit(state, event)
    assert len(state.days) == 2
    one_day = _Legitimate()
    for minutes in (1, 23 * 60 + 59):
        event = make_event(time=midnight + timedelta(minutes=minutes), account="A1")
        _legit(one_day, event)
    assert len(one_day.days) == 1


def test_hard_cases_add_up_their_challenges_and_denials() -> None:
    """Three challenges, two of them refused, of one hard case are counted as such."""
    state = _Legitimate()
    for n in range(3):
        _legit(state, _at(60 * n), hard_case="travel", challenged=True, refused=n > 0)
    assert _legitimate_figures(state)["hard_cases"]["travel"] == {
        "events": 3,
        "challenges": 3,
        "denied": 2,
    }


def test_one_refused_look_up_is_a_contained_reader() -> None:
    """An attacker whose only look-up was refused read nothing and is contained at once."""
    attackers: dict[str, _Attacker] = {}
    _attack(attackers, _at(0, kind=EventKind.LOGIN_SUCCESS))
    _attack(attackers, _at(30), refused=True)
    figures = _scenario_figures(attackers)["incident-2022"]
    assert figures["containment_s"] == 0.0
    assert (figures["accounts"], figures["accounts_contained"], figures["exposed"]) == (1, 1, 0)


def test_the_median_containment_of_two_is_the_slower() -> None:
    """With two contained attackers the median is the upper one (index n // 2)."""
    attackers: dict[str, _Attacker] = {}
    for name, refused_at in (("a1", 10), ("a2", 70)):
        _attack(attackers, _at(0), attacker=name)
        _attack(attackers, _at(refused_at), attacker=name, refused=True)
    figures = _scenario_figures(attackers)["incident-2022"]
    assert (figures["containment_s"], figures["containment_s_median"]) == (70.0, 70.0)


def test_the_worst_week_is_per_account_through_reads_and_searches() -> None:
    """Patients exposed through two accounts are not added up in the worst week of one."""
    attackers: dict[str, _Attacker] = {}
    for n, account in enumerate(("A1", "A1", "A2", "A2")):
        _attack(attackers, _at(n, account=account, subject=pseudonym_for(n)))
    _attack(
        attackers,
        _at(
            10,
            account="A2",
            kind=EventKind.SEARCH,
            lookup=Lookup.SEARCH,
            results=(pseudonym_for(9),),
        ),
    )
    figures = _scenario_figures(attackers)["incident-2022"]
    assert figures["exposed"] == 5
    assert figures["exposed_per_account_week_max"] == 3
