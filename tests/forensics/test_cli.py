"""`rempart ingest` then `rempart investigate`, as an analyst runs them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from rempart.cli import main

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
