"""`rempart ingest` then `rempart investigate`, as an analyst runs them."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from click.testing import CliRunner

from rempart.cli import main
from rempart.decision import Action, ActionKind, Decision, Verdict
from rempart.forensics import accounts_from_addresses
from rempart.ingestion import write_records
from rempart.ingestion.archive import EventArchive

from .truth import compromised_accounts


def test_ingest_then_investigate(world: Path, tmp_path: Path) -> None:
    """The archive is built once (a second run adds nothing) and the scope is exported."""
    archive = tmp_path / "archive"
    runner = CliRunner()
    first = runner.invoke(
        main, ["ingest", str(world / "events.parquet"), "--archive", str(archive), "-q", "--json"]
    )
    assert first.exit_code == 0, first.output
    again = runner.invoke(
        main, ["ingest", str(world / "events.parquet"), "--archive", str(archive), "-q", "--json"]
    )
    assert json.loads(again.stdout)["added"] == 0
    assert json.loads(again.stdout)["duplicates"] == json.loads(first.stdout)["added"]
    accounts = ",".join(compromised_accounts(world, "phished"))
    scope = tmp_path / "scope.csv"
    result = runner.invoke(
        main,
        [
            "investigate",
            "--archive",
            str(archive),
            "--world",
            str(world / "world"),
            "--accounts",
            accounts,
            "--scope",
            str(scope),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["persons_exposed"] == len(scope.read_text().splitlines()) - 1
    assert summary["persons_exposed"] > 0


def test_investigate_prints_both_languages(world: Path, tmp_path: Path) -> None:
    """Without --json the summary is given in English, then in French."""
    archive = tmp_path / "archive"
    runner = CliRunner()
    runner.invoke(main, ["ingest", str(world / "events.parquet"), "--archive", str(archive), "-q"])
    accounts = compromised_accounts(world, "slow-drip")
    args = ["investigate", "--archive", str(archive), "--world", str(world / "world")]
    for account in accounts:
        args += ["--accounts", account]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Persons whose data the attacker read" in result.stdout
    assert "Personnes dont les données ont été consultées" in result.stdout


def test_addresses_name_the_accounts_they_got_into(world: Path, archive: EventArchive) -> None:
    """Given the attacker's addresses, the accounts under investigation are those they
    signed in to or read through: the scenario's accounts, here the phished ones."""
    attacker_ips = {
        row[0]
        for row in duckdb.sql(
            f"""SELECT DISTINCT e.ip FROM '{world}/events.parquet' e
            JOIN '{world}/truth.parquet' t USING (event_id)
            WHERE t.label = 'phished' AND e.kind = 'record_view'"""
        ).fetchall()
    }
    found = accounts_from_addresses(archive, tuple(sorted(attacker_ips)))
    assert set(compromised_accounts(world, "phished")) <= set(found)


def test_alerts_name_the_accounts_the_guard_locked(
    world: Path, archive: EventArchive, tmp_path: Path
) -> None:
    """`--alerts` investigates the accounts a decisions file locked, and those only."""
    account = compromised_accounts(world, "slow-drip")[0]
    lock = Action(kind=ActionKind.LOCK_ACCOUNT, target=account)
    alert = Action(kind=ActionKind.ALERT, target="AS16276")
    write_records(
        tmp_path / "decisions.jsonl",
        [Decision(event_id="e1", verdict=Verdict.DENY, actions=(lock, alert))],
    )
    result = CliRunner().invoke(
        main,
        [
            "investigate",
            "--archive",
            str(archive.root),
            "--world",
            str(world / "world"),
            "--alerts",
            str(tmp_path / "decisions.jsonl"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["accounts"] == [account]
