"""The follow loop: each line decided once across restarts and crashes, actions owed finished."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from rempart.decision import Action, ActionKind, Decision, Reason, Verdict
from rempart.errors import ConfigError
from rempart.events import Event
from rempart.follow import Checkpoint, FollowReport, follow, read_checkpoint, write_checkpoint
from rempart.ingestion.logs.base import LINE_LIMIT
from rempart.response import EnforcerRegistry, JsonlLedger

from .stand_ins import (
    T0,
    THIEF,
    Clock,
    Crash,
    Enforcer,
    EventLines,
    Recorder,
    append,
    event_line,
    file_mode,
    recording_guard,
)


class Site:
    """A followed log, its state, rejects and ledger files, and one portal enforcer for all runs."""

    def __init__(self, folder: Path) -> None:
        self.log = folder / "access.log"
        self.state = folder / "access.log.follow"
        self.rejects = folder / "rejects.jsonl"
        self.ledger_path = folder / "actions.jsonl"
        self.portal = Enforcer()
        self.recorder = Recorder()
        self.clock = Clock()

    def run(self, **options: Any) -> FollowReport:
        """One run of ``follow`` over a fresh guard and the ledger reopened, as a new process."""
        registry = EnforcerRegistry()
        registry.register(self.portal)
        options.setdefault("max_polls", 1)
        with JsonlLedger(self.ledger_path) as ledger:
            return follow(
                self.log,
                EventLines(),
                recording_guard(self.recorder),
                state=self.state,
                ledger=ledger,
                enforcers=registry,
                rejects=self.rejects,
                clock=self.clock,
                sleep=options.pop("sleep", lambda seconds: None),
                **options,
            )

    def crash(self, **options: Any) -> None:
        """A run that dies (`Crash`); the ledger's file lock goes with the process."""
        with pytest.raises(Crash):
            self.run(**options)

    def ledger_actions(self) -> Counter[tuple[str | None, ActionKind]]:
        """How many times each (event, kind) was recorded in the ledger."""
        with JsonlLedger(self.ledger_path) as ledger:
            return Counter((record.event_id, record.kind) for record in ledger.records())

    def carried_out(self) -> list[tuple[str | None, ActionKind]]:
        """Every (event, kind) the portal was asked to carry out, in order."""
        return [(record.event_id, record.kind) for record in self.portal.applied]


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """A fresh site."""
    return Site(tmp_path)


def _lines(numbers: range, thieves: frozenset[int] = frozenset(), thief: str = "") -> list[str]:
    """Events ``ev<number>`` of A00001, or of a thief (``thief``, else one per event)."""
    return [
        event_line(
            number,
            account=(thief or f"{THIEF}{number:04d}") if number in thieves else "A00001",
            session=f"s{number}",
        )
        for number in numbers
    ]


def _once(numbers: range) -> Counter[str]:
    return Counter(f"ev{number:05d}" for number in numbers)


def _owed(numbers: list[int]) -> Counter[tuple[str | None, ActionKind]]:
    return Counter(
        (f"ev{number:05d}", kind)
        for number in numbers
        for kind in (ActionKind.REVOKE_SESSION, ActionKind.LOCK_ACCOUNT)
    )


def test_each_outcome_is_counted_and_rejects_are_appended_located(site: Site) -> None:
    """Events are decided, comments skipped, bad lines appended to the rejects file, located."""
    long = "x" * (LINE_LIMIT + 1) + "\n"
    append(site.log, event_line(1), "# a comment\n", "{not json\n", "\n", long, event_line(2))
    report = site.run()
    assert (report.lines, report.events, report.rejects, report.skipped) == (5, 2, 2, 1)
    assert report.verdicts == {"allow": 2}
    assert report.stopped == "max_polls"
    assert site.recorder.scored == _once(range(1, 3))
    bad, overlong = [json.loads(line) for line in site.rejects.read_text().splitlines()]
    assert (bad["source"], bad["line"], bad["raw"]) == (str(site.log), 3, "{not json")
    assert (overlong["line"], overlong["message"]) == (5, f"line longer than {LINE_LIMIT} bytes")
    assert file_mode(site.rejects) == file_mode(site.state) == 0o600
    append(site.log, "also bad\n")
    site.run()
    rejected = [json.loads(line)["line"] for line in site.rejects.read_text().splitlines()]
    assert rejected == [3, 5, 7]


def test_a_restart_resumes_exactly_where_the_last_run_stopped(site: Site) -> None:
    """Runs stopped between polls and started again decide every line once, in order."""
    append(site.log, *_lines(range(1, 4)))
    first = site.run()
    assert first.start == f"started at the beginning of {site.log} (no recorded position)"
    append(site.log, *_lines(range(4, 6)))
    second = site.run(max_polls=2)
    offset = len("".join(_lines(range(1, 4))))
    assert second.start == f"resumed at line 3 (byte {offset}) of {site.log}"
    assert second.events == 2
    append(site.log, *_lines(range(6, 8)))
    site.run()
    assert site.recorder.scored == _once(range(1, 8))
    checkpoint = read_checkpoint(site.state)
    assert checkpoint is not None
    assert checkpoint.position is not None
    assert checkpoint.position.offset == site.log.stat().st_size
    assert checkpoint.pending == ()


def test_lines_written_between_polls_are_read_by_the_next_poll(site: Site) -> None:
    """A live log: what is appended while the runner sleeps is decided at the next poll."""
    chunks: Iterator[list[str]] = iter([_lines(range(3, 5)), _lines(range(5, 6))])
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        append(site.log, *next(chunks, []))

    append(site.log, *_lines(range(1, 3)))
    report = site.run(max_polls=6, sleep=sleep, interval=0.5)
    assert site.recorder.scored == _once(range(1, 6))
    assert report.polls == 6
    assert naps == [0.5, 0.5]  # never after a poll that found lines, nor after the last


def test_a_rotation_while_stopped_loses_no_line(site: Site) -> None:
    """Stopped, then the log rotated by rename: the end of LOG.1 first, then the new LOG."""
    append(site.log, *_lines(range(1, 3)))
    site.run()
    append(site.log, *_lines(range(3, 5)))
    site.log.rename(site.log.with_name("access.log.1"))
    append(site.log, *_lines(range(5, 7)))
    report = site.run(max_polls=2, rotate_wait=0.0)
    assert report.start.endswith("of " + str(site.log.with_name("access.log.1")))
    assert site.recorder.scored == _once(range(1, 7))


def test_a_crash_while_acting_redecides_nothing_and_finishes_the_actions(site: Site) -> None:
    """Killed while the portal carries out a lock: on restart no line is decided again, and every
    owed action is recorded in the ledger once and carried out (the one in flight again)."""
    append(site.log, *_lines(range(1, 6), thieves=frozenset({2, 4})))
    site.portal.crash_at = 2  # the lock of ev00002, after its revocation
    site.crash()
    assert site.recorder.scored == _once(range(1, 6))
    assert site.ledger_actions() == _owed([2])
    report = site.run()
    assert report.recovered == 4
    assert report.events == 0
    assert site.recorder.scored == _once(range(1, 6))
    assert site.ledger_actions() == _owed([2, 4])
    revoke, lock = ActionKind.REVOKE_SESSION, ActionKind.LOCK_ACCOUNT
    assert site.carried_out() == [
        ("ev00002", revoke),
        ("ev00002", lock),  # died here: carried out again after the restart
        ("ev00002", revoke),
        ("ev00002", lock),
        ("ev00004", revoke),
        ("ev00004", lock),
    ]
    assert [record.id for record in site.portal.applied] == [1, 2, 1, 2, 3, 4]


def _owed_lock(site: Site, event_id: str) -> Decision:
    """A thief's decision left owed in the state file, as a crash after its commit leaves it."""
    append(site.log, event_line(1))
    decision = Decision(
        event_id=event_id,
        verdict=Verdict.DENY,
        actions=(
            Action(kind=ActionKind.REVOKE_SESSION, target="s1"),
            Action(kind=ActionKind.LOCK_ACCOUNT, target="T1"),
        ),
        reasons=(Reason(detector="recorder", code="thief", message="a thief"),),
        time=T0,
    )
    checkpoint = Checkpoint(log=str(site.log), pending=(decision,), ledger_mark=0)
    write_checkpoint(site.state, checkpoint)
    return decision


def test_an_action_recorded_before_a_crash_is_not_recorded_again(site: Site) -> None:
    """Killed between two actions of one decision: the missing one alone is recorded, and the
    recorded one, maybe never carried out, is carried out (again)."""
    decision = _owed_lock(site, "ev00009")
    with JsonlLedger(site.ledger_path) as ledger:
        ledger.record(
            msgspec.structs.replace(decision, actions=decision.actions[:1]), "guard:x", T0
        )
    report = site.run()
    assert (report.recovered, report.actions_applied) == (2, 2)
    assert site.ledger_actions() == _owed([9])
    assert [record.id for record in site.portal.applied] == [1, 2]
    assert site.recorder.scored == _once(range(1, 2))


def test_an_action_that_failed_before_a_crash_is_not_carried_out_again(site: Site) -> None:
    """A record marked failed had every enforcer tried: it stands as failed, untried again."""
    decision = _owed_lock(site, "ev00009")
    with JsonlLedger(site.ledger_path) as ledger:
        (revoke,) = ledger.record(
            msgspec.structs.replace(decision, actions=decision.actions[:1]), "guard:x", T0
        )
        ledger.fail(revoke.id, "portal: EnforcementError: 503")
    report = site.run()
    assert (report.recovered, report.actions_failed, report.actions_applied) == (2, 1, 1)
    assert site.carried_out() == [("ev00009", ActionKind.LOCK_ACCOUNT)]


def test_a_crash_while_deciding_acts_on_nothing_uncommitted(site: Site) -> None:
    """Killed mid-batch: the committed batches stand; the lines decided after the last commit
    left no action and no position, and are decided again by the next run (the documented
    at-least-once window of a decision that died with its process)."""
    append(site.log, *_lines(range(1, 6), thieves=frozenset({2, 3})))
    site.recorder.crash_on = "ev00004"
    site.crash(batch_lines=2)
    assert site.ledger_actions() == _owed([2])  # ev00003's lock was decided, never acted on
    checkpoint = read_checkpoint(site.state)
    assert checkpoint is not None
    assert checkpoint.position is not None
    assert (checkpoint.position.line, checkpoint.pending) == (2, ())
    site.run(batch_lines=2)
    assert site.recorder.scored == _once(range(1, 6)) + Counter({"ev00003": 1})
    assert site.ledger_actions() == _owed([2, 3])
    assert sorted(Counter(site.carried_out()).values()) == [1, 1, 1, 1]


def test_a_guard_error_commits_the_lines_before_it_and_propagates(site: Site) -> None:
    """A store that stops answering ends the run; the lines decided before it are kept, acted on."""
    append(site.log, *_lines(range(1, 6), thieves=frozenset({2})))
    site.recorder.fail_on = "ev00004"
    with pytest.raises(ConnectionError):
        site.run()
    assert site.ledger_actions() == _owed([2])
    site.run()
    assert site.recorder.scored == _once(range(1, 6))
    assert site.ledger_actions() == _owed([2])


def test_a_stop_takes_effect_after_the_line_at_hand(site: Site) -> None:
    """Setting ``stop`` mid-poll ends the run after that line; the next run reads on from there."""
    stop = threading.Event()

    def decided(event: Event, decision: Decision) -> None:
        if event.event_id == "ev00002":
            stop.set()

    append(site.log, *_lines(range(1, 5)))
    report = site.run(stop=stop, on_decision=decided, max_polls=None)
    assert (report.stopped, report.events) == ("stop", 2)
    site.run()
    assert site.recorder.scored == _once(range(1, 5))


def test_sigterm_stops_the_run_cleanly(site: Site) -> None:
    """SIGTERM during the wait between polls ends the run, which commits and reports it."""
    previous = signal.getsignal(signal.SIGTERM)
    append(site.log, *_lines(range(1, 3)))
    report = site.run(max_polls=None, sleep=lambda seconds: os.kill(os.getpid(), signal.SIGTERM))
    assert (report.stopped, report.events, report.polls) == ("SIGTERM", 2, 2)
    assert signal.getsignal(signal.SIGTERM) is previous
    assert site.recorder.scored == _once(range(1, 3))


def test_the_ledger_keeps_a_lock_in_force_across_a_restart(site: Site) -> None:
    """Over a memory store, the restarted guard has forgotten the lock; the ledger refuses first."""
    append(site.log, *_lines(range(1, 3), thieves=frozenset({2}), thief="T1"))
    site.run()
    append(site.log, *_lines(range(3, 5), thieves=frozenset({3, 4}), thief="T1"))
    report = site.run()
    assert report.verdicts == {"deny": 2}
    assert "ev00003" not in site.recorder.scored
    assert site.ledger_actions() == _owed([2])


def test_a_state_file_of_another_log_is_refused(site: Site, tmp_path: Path) -> None:
    """A state file names its log: pointed at another log, follow refuses to start."""
    append(site.log, event_line(1))
    site.run()
    other = tmp_path / "other.log"
    append(other, event_line(1))
    site.log = other
    with pytest.raises(ConfigError, match="state"):
        site.run()


def test_a_state_or_rejects_file_that_cannot_be_written_stops_follow_before_any_decision(
    site: Site, tmp_path: Path
) -> None:
    """Unwritable state or rejects files are configuration errors raised before a line is read."""
    append(site.log, event_line(1))
    state, site.state = site.state, tmp_path / "missing" / "state"
    with pytest.raises(ConfigError, match="state"):
        site.run()
    site.state, site.rejects = state, tmp_path / "missing" / "rejects.jsonl"
    with pytest.raises(ConfigError, match="rejects"):
        site.run()
    assert not site.recorder.scored


def test_bad_options_are_config_errors(site: Site) -> None:
    """A negative interval or an empty batch is refused by name."""
    append(site.log, event_line(1))
    with pytest.raises(ConfigError, match="batch_lines"):
        site.run(batch_lines=0)
    with pytest.raises(ConfigError, match="interval"):
        site.run(interval=-1.0)


def test_a_second_factor_passed_in_the_log_vouches_for_the_session(site: Site) -> None:
    """An mfa_success line is the step-up the guard would have asked for: the session is
    vouched for (allowed with the step_up_passed reason), not decided as a new event."""
    append(site.log, event_line(1, kind="mfa_success", session="s1"))
    decided: list[Decision] = []
    site.run(on_decision=lambda event, decision: decided.append(decision))
    assert [r.code for r in decided[0].reasons] == ["step_up_passed"]
    assert site.recorder.scored["ev00001"] == 0


def test_ban_on_lock_bans_the_address_that_got_the_account_locked(site: Site) -> None:
    """With ban_on_lock, a decision that locks an account also bans the event's address,
    for that long; without it, the guard's actions are left as they are."""
    append(site.log, event_line(1, account=THIEF, ip="51.75.1.2"))
    decided: list[Decision] = []
    site.run(
        on_decision=lambda event, decision: decided.append(decision),
        ban_on_lock=timedelta(minutes=30),
    )
    bans = [a for a in decided[0].actions if a.kind is ActionKind.BAN_ADDRESS]
    assert [b.target for b in bans] == ["51.75.1.2"]
    assert bans[0].until is not None
