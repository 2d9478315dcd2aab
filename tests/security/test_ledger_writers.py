"""Issue #9, the ledger: one writer per file, and appends that do not rescan the records."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rempart.errors import ConfigError
from rempart.guard.decision import Action, ActionKind, Decision, Verdict
from rempart.response import JsonlLedger
from rempart.response.record import ActionRecord

T0 = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)


def _ban(address: str) -> Decision:
    until = T0 + timedelta(hours=1)
    ban = Action(kind=ActionKind.BAN_ADDRESS, target=address, until=until)
    return Decision(event_id=f"ev-{address}", verdict=Verdict.DENY, actions=(ban,), time=T0)


def test_a_second_writer_on_the_same_file_is_refused(tmp_path: Path) -> None:
    """While one ledger holds the file, a second one fails clearly instead of reusing ids."""
    path = tmp_path / "actions.jsonl"
    with JsonlLedger(path) as first:
        first.record(_ban("192.0.2.1"), "guard:login_attacks")
        with pytest.raises(ConfigError) as raised:
            JsonlLedger(path)
        assert type(raised.value).__name__ == "LedgerInUseError"
        assert str(path) in str(raised.value)
        (second_record,) = first.record(_ban("192.0.2.2"), "guard:login_attacks")
    assert second_record.id == 2
    with JsonlLedger(path) as reopened:  # released by close
        assert [record.id for record in reopened.records()] == [1, 2]


def test_a_writer_in_another_process_is_refused(tmp_path: Path) -> None:
    """The lock is the operating system's: another process cannot open the file to write."""
    path = tmp_path / "actions.jsonl"
    script = (
        "import sys\n"
        "from rempart.response import JsonlLedger\n"
        "from rempart.errors import RempartError\n"
        "try:\n"
        "    JsonlLedger(sys.argv[1])\n"
        "except RempartError as error:\n"
        "    print(type(error).__name__)\n"
    )
    with JsonlLedger(path):
        other = subprocess.run(
            [sys.executable, "-c", script, str(path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    assert other.stdout.strip() == "LedgerInUseError"


def test_a_snapshot_reads_a_file_in_use_without_writing(tmp_path: Path) -> None:
    """Another reader sees the records while the writer holds the file, and leaves it as is."""
    path = tmp_path / "actions.jsonl"
    with JsonlLedger(path) as writer:
        writer.record(_ban("192.0.2.1"), "guard:login_attacks")
        before = path.read_bytes()
        snapshot = JsonlLedger.snapshot(path)
        assert [record.target for record in snapshot.active(T0)] == ["192.0.2.1"]
        assert path.read_bytes() == before


class _CountingRecords(dict[int, ActionRecord]):
    """The ledger's id table, counting every walk over its ids."""

    walks = 0

    def __iter__(self) -> Any:
        type(self).walks += 1
        return super().__iter__()


def test_an_append_does_not_walk_the_records(tmp_path: Path) -> None:
    """Opening reads the file once; after that no append walks the ids to find the next one."""
    path = tmp_path / "actions.jsonl"
    with JsonlLedger(path) as ledger:
        for index in range(50):
            ledger.record(_ban(f"192.0.2.{index}"), "guard:login_attacks")
    with JsonlLedger(path) as ledger:
        counting = _CountingRecords(ledger._current)
        ledger._current = counting
        for index in range(50):
            (record,) = ledger.record(_ban(f"198.51.100.{index}"), "guard:login_attacks")
        ledger.fail(record.id, "nftables: exited 1")
        assert _CountingRecords.walks == 0
        assert record.id == 100
    with JsonlLedger(path) as reopened:
        assert len(reopened) == 100
        assert reopened.get(100).error == "nftables: exited 1"
