"""``rempart eval``: replay a simulated directory with its ground truth, for Rempart and baselines.

Step-up is simulated from the truth: a legitimate professional (and an
insider, who holds their own second factor) passes. A thief holding only a
password, a mailbox or a session cookie cannot pass, and is modelled two
ways (`Thief`): one that answers the challenge and fails (the guard's failed
step-up path: lock, revoke) and one that never answers and simply keeps
reading, while the owner keeps working on the same account and passes the
step-ups they are asked for. A challenged read is refused either way; only
what the guard does next differs. For each scenario the report
gives the patients exposed (distinct subjects whose data reached the
attacker), the time to first detection (first non-allow decision or alert on
one of its events), the time to containment (from an attacker's first
look-up to the refusal after which none of its look-ups succeeds; the worst
attacker), and the accounts contained. A patient is exposed by an allowed
read of their record or by an allowed search that listed them (their
identity left): ``exposed`` and ``exposed_per_account_week_max`` count each
person once whichever way; ``reads_allowed`` counts record views only, and
``lookups`` counts record views and the searches that listed people. For
legitimate traffic: challenges per 1,000 professional-days, denied events
and locked accounts, with the hard cases broken out. Owners of taken-over
accounts are left out of friction from the attacker's first *successful*
event on (a login that worked, a read): locking their account is the right
answer. A failed spray login does not make an account taken over, so its
owner's friction still counts.

Detection counts only within `DETECTION_HORIZON_S` of an attacker's first
event: ``attackers_detected`` and ``detection_s_worst`` say how many were
detected in time and the slowest of those; an alert days later is reported
in ``attackers_detected_late``, not as a detection.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from rempart.events import Event, EventKind, Outcome
from rempart.evidence import CareEvidence
from rempart.guard.decision import ActionKind, Verdict
from rempart.guard.guard import Guard
from rempart.guard.knowledge import Knowledge
from rempart.guard.policy import Policy
from rempart.ingestion import iter_records
from rempart.ingestion.rejected import Rejected
from rempart.networks import NetworkTable
from rempart.progress import Progress, silent
from rempart.replay.baselines import AccountRateLimit, AddressLeakyBucket, Defence, NoDefence

__all__ = [
    "DETECTION_HORIZON_S",
    "SECOND_FACTOR_HOLDERS",
    "DefenceReport",
    "Report",
    "Thief",
    "evaluate",
]

SECOND_FACTOR_HOLDERS = frozenset({"insider-curiosity"})
"""Scenarios whose attacker passes step-up: they use their own account and device."""

_WEEK = 7 * 86_400.0

DETECTION_HORIZON_S = 86_400.0
"""An attacker counts as detected only if detected within a day of its first event."""


class Thief(StrEnum):
    """How an attacker without the owner's second factor meets a challenge."""

    FAILS = "fails"
    """Answers the challenge and fails it: the guard's failed step-up path runs."""
    SILENT = "silent"
    """Never answers: the challenged read is refused and the robot keeps on reading."""


@dataclass
class _Attacker:
    scenario: str
    accounts: set[str] = field(default_factory=set)
    first_event: float | None = None
    first_lookup: float | None = None
    first_detection: float | None = None
    first_detection_any: float | None = None
    refused_after_last_allowed: float | None = None
    lookups: int = 0
    reads_allowed: int = 0
    exposures: list[tuple[str, float, str]] = field(default_factory=list)  # account, t, subject


@dataclass
class _Legitimate:
    days: set[tuple[str, int]] = field(default_factory=set)
    challenges: int = 0
    denied: int = 0
    by_case: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))
    locked: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class DefenceReport:
    """One defence's figures: per scenario and for legitimate traffic."""

    name: str
    scenarios: dict[str, dict[str, Any]]
    legitimate: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {"scenarios": self.scenarios, "legitimate": self.legitimate}


@dataclass(frozen=True)
class Report:
    """The evaluation of a simulated directory: Rempart and the baselines, same events."""

    directory: str
    defences: list[DefenceReport]
    events: int
    rejected: int
    thief: Thief = Thief.FAILS
    knowledge: str = "full"
    """The guard's knowledge of networks: ``full``, ``realistic`` or ``none``."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON report; keys documented in ``docs/detection.md``."""
        return {
            "directory": self.directory,
            "thief": self.thief.value,
            "knowledge": self.knowledge,
            "events": self.events,
            "rejected": self.rejected,
            "defences": {d.name: d.to_dict() for d in self.defences},
        }

    def render(self) -> str:
        """A plain-text table per defence."""
        lines: list[str] = [
            f"{self.directory}: {self.events:,} events ({self.rejected} rejected), "
            f"thief {self.thief.value}: {_THIEF_TEXT[self.thief]}; "
            f"network knowledge {self.knowledge}"
        ]
        for defence in self.defences:
            lines.append("")
            lines.append(f"== {defence.name}")
            lines.append(
                f"{'scenario':22} {'exposed':>9} {'detect s':>10} {'contain s':>10} "
                f"{'contained':>10} {'worst wk/acct':>13}"
            )
            for name, row in defence.scenarios.items():
                contained = f"{row['accounts_contained']}/{row['accounts']}"
                lines.append(
                    f"{name:22} {row['exposed']:9,} {_seconds(row['detection_s']):>10} "
                    f"{_seconds(row['containment_s']):>10} {contained:>10} "
                    f"{row['exposed_per_account_week_max']:13,}"
                )
            legit = defence.legitimate
            lines.append(
                f"legitimate: {legit['challenges']} challenges in {legit['professional_days']:,} "
                f"professional-days ({legit['challenges_per_1000_days']:.2f} per 1,000), "
                f"{legit['denied']} denied, {legit['locked_accounts']} accounts locked"
            )
            cases = ", ".join(
                f"{case} {c['challenges']}/{c['denied']}" for case, c in legit["hard_cases"].items()
            )
            lines.append(f"hard cases (challenges/denied): {cases}")
        return "\n".join(lines)


_THIEF_TEXT = {
    Thief.FAILS: "answers a challenge and fails it",
    Thief.SILENT: "never answers a challenge and keeps reading",
}


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:,.0f}"


def _truth(directory: Path) -> dict[str, tuple[str, str | None, str | None]]:
    table = pq.read_table(directory / "truth.parquet")
    labels: dict[str, tuple[str, str | None, str | None]] = {
        str(event_id): (str(label), attacker, hard_case)
        for event_id, label, attacker, hard_case in zip(
            table.column("event_id").to_pylist(),
            table.column("label").to_pylist(),
            table.column("attacker").to_pylist(),
            table.column("hard_case").to_pylist(),
            strict=True,
        )
    }
    return labels


def _events_file(directory: Path, stem: str) -> Path:
    for suffix in ("parquet", "jsonl"):
        path = directory / f"{stem}.{suffix}"
        if path.exists():
            return path
    return directory / f"{stem}.parquet"


def _merged(
    events: Iterator[Event], evidence: Iterator[CareEvidence], defences: Sequence[Defence]
) -> Iterator[Event]:
    upcoming = next(evidence, None)
    for event in events:
        while upcoming is not None and upcoming.time <= event.time:
            for defence in defences:
                defence.observe(upcoming)
            upcoming = next(evidence, None)
        yield event


def default_defences(
    knowledge: Knowledge, policy: Policy | None = None
) -> list[tuple[str, Defence]]:
    """Rempart with ``policy`` and the three baselines, each with fresh state."""
    return [
        ("rempart", Guard(knowledge, policy=policy)),
        ("no-defence", NoDefence()),
        ("crowdsec-crawl", AddressLeakyBucket()),
        ("account-rate-limit", AccountRateLimit()),
    ]


def evaluate(
    directory: Path,
    *,
    policy: Policy | None = None,
    defences: Callable[[Knowledge], list[tuple[str, Defence]]] | None = None,
    thief: Thief = Thief.FAILS,
    networks: NetworkTable | None = None,
    knowledge_level: str = "full",
    progress: Progress = silent,
) -> Report:
    """Replay ``directory`` (written by ``rempart simulate``) through every defence.

    ``thief`` chooses how attackers without the owner's second factor meet a
    challenge (`Thief`); owners and insiders always pass. ``networks`` is the
    network table the guard is given instead of the world's own (the truth the
    simulator drew addresses from), named ``knowledge_level`` in the report.

    ``progress`` (`rempart.progress`) hears the events replayed, once per
    batch read: rows of the row count for Parquet, bytes for JSON Lines.
    """
    knowledge = Knowledge.from_world(directory / "world", networks=networks)
    chosen = (defences or (lambda k: default_defences(k, policy)))(knowledge)
    truth = _truth(directory)
    rejected: list[Rejected] = []
    events = iter_records(_events_file(directory, "events"), Event, rejected, progress=progress)
    evidence = iter_records(_events_file(directory, "evidence"), CareEvidence, rejected)
    names = [name for name, _ in chosen]
    guards = [defence for _, defence in chosen]
    attackers: list[dict[str, _Attacker]] = [{} for _ in guards]
    legit = [_Legitimate() for _ in guards]
    locked: list[set[str]] = [set() for _ in guards]
    taken_over: dict[str, float] = {}
    count = 0
    for event in _merged(events, evidence, guards):
        count += 1
        label, attacker_id, hard_case = truth[event.event_id]
        now = event.time.timestamp()
        if (
            attacker_id is not None
            and event.account
            and label not in SECOND_FACTOR_HOLDERS
            and event.outcome is Outcome.SUCCESS
        ):
            taken_over.setdefault(event.account, now)
        for index, guard in enumerate(guards):
            decision = guard.decide(event)
            verdict = decision.verdict
            challenged = verdict is Verdict.CHALLENGE
            actions = decision.actions
            if challenged:
                passed = attacker_id is None or label in SECOND_FACTOR_HOLDERS
                refused = not passed
                if passed or thief is Thief.FAILS:
                    actions = actions + guard.step_up(event, passed).actions
            else:
                refused = verdict is Verdict.DENY
            for action in actions:
                if action.kind is ActionKind.LOCK_ACCOUNT:
                    locked[index].add(action.target)
            detected = verdict is not Verdict.ALLOW or any(
                a.kind is ActionKind.ALERT for a in actions
            )
            if attacker_id is None:
                _count_legitimate(
                    legit[index], event, now, hard_case, challenged, refused, taken_over
                )
            else:
                _count_attack(attackers[index], label, attacker_id, event, now, detected, refused)
    reports = []
    for index, name in enumerate(names):
        legit[index].locked = {a for a in locked[index] if a not in taken_over}
        reports.append(
            DefenceReport(
                name=name,
                scenarios=_scenario_figures(attackers[index]),
                legitimate=_legitimate_figures(legit[index]),
            )
        )
    return Report(
        directory=str(directory),
        defences=reports,
        events=count,
        rejected=len(rejected),
        thief=thief,
        knowledge=knowledge_level,
    )


def _count_legitimate(
    state: _Legitimate,
    event: Event,
    now: float,
    hard_case: str | None,
    challenged: bool,
    refused: bool,
    taken_over: dict[str, float],
) -> None:
    account = event.account
    if account is not None and account in taken_over and now >= taken_over[account]:
        return  # the owner of a taken-over account: locking it is the right answer
    if event.is_read and account is not None:
        state.days.add((account, int(now // 86_400)))
    if hard_case is not None:
        state.by_case[hard_case][0] += 1
    if challenged:
        state.challenges += 1
        if hard_case is not None:
            state.by_case[hard_case][1] += 1
    if refused:
        state.denied += 1
        if hard_case is not None:
            state.by_case[hard_case][2] += 1


def _count_attack(
    attackers: dict[str, _Attacker],
    label: str,
    attacker_id: str,
    event: Event,
    now: float,
    detected: bool,
    refused: bool,
) -> None:
    attacker = attackers.get(attacker_id)
    if attacker is None:
        attacker = attackers[attacker_id] = _Attacker(scenario=label)
    if event.account:
        attacker.accounts.add(event.account)
    if attacker.first_event is None:
        attacker.first_event = now
    if detected and attacker.first_detection_any is None:
        attacker.first_detection_any = now
        if now - attacker.first_event <= DETECTION_HORIZON_S:
            attacker.first_detection = now
    # A search that listed people is a look-up too: their identities left through it.
    if event.kind is not EventKind.RECORD_VIEW and not event.results:
        return
    attacker.lookups += 1
    if attacker.first_lookup is None:
        attacker.first_lookup = now
    if refused:
        if attacker.refused_after_last_allowed is None:
            attacker.refused_after_last_allowed = now
        return
    attacker.refused_after_last_allowed = None
    if event.is_read and event.subject is not None:
        attacker.reads_allowed += 1
        attacker.exposures.append((event.account or "", now, event.subject))
    for subject in event.results:  # someone listed, then read, is one person exposed
        attacker.exposures.append((event.account or "", now, subject))


def _weekly_max(exposures: list[tuple[str, float, str]]) -> int:
    """The most distinct patients exposed through one account within any 7 days."""
    by_account: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for account, when, subject in exposures:
        by_account[account].append((when, subject))
    best = 0
    for items in by_account.values():
        items.sort()
        start = 0
        window: dict[str, int] = {}
        for when, subject in items:
            window[subject] = window.get(subject, 0) + 1
            while items[start][0] <= when - _WEEK:
                old = items[start][1]
                window[old] -= 1
                if window[old] == 0:
                    del window[old]
                start += 1
            best = max(best, len(window))
    return best


def _scenario_figures(attackers: dict[str, _Attacker]) -> dict[str, dict[str, Any]]:
    by_scenario: dict[str, list[_Attacker]] = defaultdict(list)
    for attacker in attackers.values():
        by_scenario[attacker.scenario].append(attacker)
    figures: dict[str, dict[str, Any]] = {}
    for scenario in sorted(by_scenario):
        group = by_scenario[scenario]
        exposures = [item for attacker in group for item in attacker.exposures]
        detections = [a.first_detection for a in group if a.first_detection is not None]
        starts = [a.first_event for a in group if a.first_event is not None]
        delays = [
            a.first_detection - a.first_event
            for a in group
            if a.first_detection is not None and a.first_event is not None
        ]
        reading = [a for a in group if a.lookups > 0]
        contained = [a for a in reading if a.refused_after_last_allowed is not None]
        containment = [
            a.refused_after_last_allowed - a.first_lookup
            for a in contained
            if a.refused_after_last_allowed is not None and a.first_lookup is not None
        ]
        accounts = {account for a in reading for account in a.accounts}
        contained_accounts = {account for a in contained for account in a.accounts}
        figures[scenario] = {
            "exposed": len({subject for _, _, subject in exposures}),
            "reads_allowed": sum(a.reads_allowed for a in group),
            "lookups": sum(a.lookups for a in group),
            "detection_s": min(detections) - min(starts) if detections and starts else None,
            "attackers": len(group),
            "attackers_detected": len(delays),
            "attackers_detected_late": sum(
                1 for a in group if a.first_detection is None and a.first_detection_any is not None
            ),
            "detection_s_worst": max(delays) if delays else None,
            "containment_s": max(containment)
            if contained and len(contained) == len(reading)
            else None,
            "containment_s_median": sorted(containment)[len(containment) // 2]
            if containment
            else None,
            "accounts": len(accounts),
            "accounts_contained": len(contained_accounts),
            "exposed_per_account_week_max": _weekly_max(exposures),
        }
    return figures


def _legitimate_figures(state: _Legitimate) -> dict[str, Any]:
    days = len(state.days)
    return {
        "professional_days": days,
        "challenges": state.challenges,
        "challenges_per_1000_days": 1_000 * state.challenges / days if days else 0.0,
        "denied": state.denied,
        "locked_accounts": len(state.locked),
        "hard_cases": {
            case: {"events": counts[0], "challenges": counts[1], "denied": counts[2]}
            for case, counts in sorted(state.by_case.items())
        },
    }
