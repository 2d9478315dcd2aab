"""The action ledger: records, expiry, lifts and the JSON Lines file."""

from __future__ import annotations

import stat
from pathlib import Path

import msgspec
import pytest
from structlog.testing import capture_logs

from rempart.errors import RecordError
from rempart.guard.decision import Action, ActionKind, Decision, Verdict
from rempart.response import ActionLedger, ActionRecord, JsonlLedger, RecordState
from rempart.testing import make_event

from .actions import HOUR, T0, ban, lock


def test_record_keeps_trigger_event_and_reasons(ledger: ActionLedger) -> None:
    """Each action of a decision becomes a record naming its trigger, event and reason codes."""
    records = ledger.record(lock("A00042"), "guard:canary")
    assert [(r.id, r.kind, r.target) for r in records] == [
        (1, ActionKind.REVOKE_SESSION, "s0001"),
        (2, ActionKind.LOCK_ACCOUNT, "A00042"),
    ]
    assert {(r.trigger, r.event_id, r.reasons, r.time, r.state) for r in records} == {
        ("guard:canary", "ev-lock-A00042", ("canary_read",), T0, RecordState.APPLIED)
    }


def test_record_without_any_time_is_refused(ledger: ActionLedger) -> None:
    """A decision without a time and no ``now`` is refused: the ledger reads no clock."""
    untimed = msgspec.structs.replace(ban("1.2.3.4"), time=None)
    with pytest.raises(ValueError, match="now"):
        ledger.record(untimed, "guard:login_attacks")
    assert ledger.record(untimed, "guard:login_attacks", T0 + HOUR)[0].time == T0 + HOUR


def test_expiry_follows_the_time_passed_in(ledger: ActionLedger) -> None:
    """A ban is active before its expiry and gone at it, whatever the wall clock says."""
    ledger.record(ban("1.2.3.4", T0 + HOUR), "guard:login_attacks")
    assert [r.target for r in ledger.active(T0 + HOUR - HOUR / 60)] == ["1.2.3.4"]
    assert ledger.active(T0 + HOUR) == []
    assert [r.target for r in ledger.active(T0)] == ["1.2.3.4"]


def test_active_lists_only_locks_and_bans(ledger: ActionLedger) -> None:
    """Session revocations and alerts are one-off: never in force."""
    ledger.record(lock("A00042"), "guard:canary")
    assert [(r.kind, r.target) for r in ledger.active(T0 + 1000 * HOUR)] == [
        (ActionKind.LOCK_ACCOUNT, "A00042")
    ]


def test_lift_ends_a_ban(ledger: ActionLedger) -> None:
    """Lifting a ban removes it from the active set and records who lifted it."""
    ledger.record(ban("1.2.3.4", T0 + HOUR), "guard:login_attacks")
    ledger.record(ban("5.6.7.8", T0 + HOUR), "guard:login_attacks")
    lifted = ledger.lift("1.2.3.4", ActionKind.BAN_ADDRESS, by="analyst:alice", now=T0 + HOUR / 2)
    assert lifted is not None
    assert (lifted.state, lifted.trigger, lifted.lifts) == (
        RecordState.LIFTED,
        "analyst:alice",
        (1,),
    )
    assert [r.target for r in ledger.active(T0 + HOUR / 2)] == ["5.6.7.8"]
    assert [r.id for r in ledger.lifted(T0 + HOUR / 2)] == [1]
    assert ledger.lifted(T0 + HOUR) == []


def test_lift_ends_a_lock_and_a_later_lock_stands(ledger: ActionLedger) -> None:
    """Lifting a lock ends it; a lock recorded after the lift is in force again."""
    ledger.record(lock("A00042"), "guard:canary")
    assert ledger.lift("A00042", ActionKind.LOCK_ACCOUNT, by="analyst:bob", now=T0 + HOUR)
    assert ledger.active(T0 + HOUR) == []
    ledger.record(lock("A00042"), "guard:canary", T0 + 2 * HOUR)
    assert [r.id for r in ledger.active(T0 + 2 * HOUR)] == [5]


def test_lift_with_nothing_in_force_is_harmless(ledger: ActionLedger) -> None:
    """Lifting an expired, already lifted or unknown ban records nothing."""
    ledger.record(ban("1.2.3.4", T0 + HOUR), "guard:login_attacks")
    assert ledger.lift("1.2.3.4", ActionKind.BAN_ADDRESS, "analyst:a", T0 + 2 * HOUR) is None
    assert ledger.lift("9.9.9.9", ActionKind.BAN_ADDRESS, "analyst:a", T0) is None
    assert ledger.lift("1.2.3.4", ActionKind.BAN_ADDRESS, "analyst:a", T0) is not None
    assert ledger.lift("1.2.3.4", ActionKind.BAN_ADDRESS, "analyst:a", T0) is None
    assert len(ledger) == 2


def test_only_locks_and_bans_can_be_lifted(ledger: ActionLedger) -> None:
    """Lifting a session revocation is a programming error."""
    with pytest.raises(ValueError, match="kind"):
        ledger.lift("s0001", ActionKind.REVOKE_SESSION, "analyst:a", T0)


def test_failed_record_stays_in_force(ledger: ActionLedger) -> None:
    """A failed ban stays in force with its error; the history keeps both versions."""
    (record,) = ledger.record(ban("1.2.3.4", T0 + HOUR), "guard:login_attacks")
    failed = ledger.fail(record.id, "nftables: exited 1")
    assert (failed.id, failed.state, failed.error) == (1, RecordState.FAILED, "nftables: exited 1")
    assert ledger.active(T0) == [failed]
    assert [entry.state for entry in ledger.history()] == [
        RecordState.APPLIED,
        RecordState.FAILED,
    ]


def test_jsonl_round_trip_restores_the_active_set(tmp_path: Path) -> None:
    """Reopening the file replays it: same records, same active set, ids continue."""
    path = tmp_path / "actions.jsonl"
    with JsonlLedger(path) as first:
        first.record(ban("1.2.3.4", T0 + HOUR), "guard:login_attacks")
        first.record(ban("2001:db8::/48", T0 + 3 * HOUR), "analyst:alice")
        first.record(lock("A00042"), "guard:canary")
        first.fail(3, "webhook: answered 500")
        first.lift("1.2.3.4", ActionKind.BAN_ADDRESS, "analyst:alice", T0 + HOUR / 2)
        expected_active = first.active(T0 + HOUR / 2)
        expected_records = first.records()
    with JsonlLedger(path) as second:
        assert second.active(T0 + HOUR / 2) == expected_active
        assert second.records() == expected_records
        assert [r.target for r in second.active(T0 + 2 * HOUR)] == ["2001:db8::/48", "A00042"]
        (new,) = second.record(ban("9.9.9.9"), "analyst:bob")
    assert new.id == len(expected_records) + 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_jsonl_drops_a_torn_last_line(tmp_path: Path) -> None:
    """A final line cut short by a crash is dropped and cut from the file; the rest replays."""
    path = tmp_path / "actions.jsonl"
    with JsonlLedger(path) as first:
        first.record(ban("1.2.3.4", T0 + HOUR), "guard:login_attacks")
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"id": 2, "time": "2022-03-01T09:')
    with capture_logs() as logs, JsonlLedger(path) as second:
        assert [r.id for r in second.records()] == [1]
        second.record(ban("5.6.7.8", T0 + HOUR), "guard:login_attacks")
    assert [entry["event"] for entry in logs] == ["ledger_torn_line_dropped"]
    assert path.read_bytes().startswith(whole)
    with JsonlLedger(path) as third:
        assert [r.target for r in third.records()] == ["1.2.3.4", "5.6.7.8"]


def test_jsonl_bad_line_is_located(tmp_path: Path) -> None:
    """A bad line in the middle of the file is a RecordError naming the file, line and field."""
    path = tmp_path / "actions.jsonl"
    with JsonlLedger(path) as first:
        first.record(ban("1.2.3.4", T0 + HOUR), "guard:login_attacks")
        first.record(ban("5.6.7.8", T0 + HOUR), "guard:login_attacks")
    lines = path.read_bytes().splitlines(keepends=True)
    lines[0] = lines[0].replace(b'"ban_address"', b'"nuke"')
    path.write_bytes(b"".join(lines))
    with pytest.raises(RecordError) as raised:
        JsonlLedger(path)
    assert (raised.value.line, raised.value.field) == (1, "$.kind")


def test_jsonl_entries_are_plain_json_lines(tmp_path: Path) -> None:
    """Each entry is one JSON object on its own line, decodable without Rempart's types."""
    path = tmp_path / "actions.jsonl"
    with JsonlLedger(path) as ledger:
        ledger.record(ban("1.2.3.4", T0 + HOUR), "guard:login_attacks")
    (line,) = path.read_text().splitlines()
    assert msgspec.json.decode(line) == {
        "id": 1,
        "time": "2022-03-01T09:00:00Z",
        "kind": "ban_address",
        "target": "1.2.3.4",
        "trigger": "guard:login_attacks",
        "until": "2022-03-01T10:00:00Z",
        "event_id": "ev-ban-1.2.3.4",
        "reasons": ["password_guessing"],
    }


def test_a_clear_nir_is_never_a_target(ledger: ActionLedger) -> None:
    """A target shaped like a valid NIR is refused, and the error does not repeat it."""
    nir = "255081416802538"
    decision = Decision(
        event_id=make_event().event_id,
        verdict=Verdict.DENY,
        actions=(Action(kind=ActionKind.LOCK_ACCOUNT, target=nir),),
        time=T0,
    )
    with pytest.raises(ValueError, match="NIR") as raised:
        ledger.record(decision, "analyst:alice")
    assert nir not in str(raised.value)
    assert ledger.records() == []


def test_record_validates_time_and_trigger() -> None:
    """A record needs an aware UTC time and a ``source:name`` trigger."""
    fields = {"id": 1, "kind": ActionKind.BAN_ADDRESS, "target": "1.2.3.4"}
    with pytest.raises(ValueError, match="time"):
        ActionRecord(time=T0.replace(tzinfo=None), trigger="guard:x", **fields)
    with pytest.raises(ValueError, match="trigger"):
        ActionRecord(time=T0, trigger="alice", **fields)
    assert ActionRecord(time=T0, trigger="analyst:alice", **fields).trigger == "analyst:alice"
