"""Evaluation and replay on the small simulated directory: the JSON report's stable keys,
no-defence exposure against a DuckDB oracle, and the ``eval`` and ``replay`` commands."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from rempart.cli import main
from rempart.events import Event
from rempart.ingestion import iter_records, write_records

from .cli import run_replay

DEFENCES = ("rempart", "no-defence", "crowdsec-crawl", "account-rate-limit")
SCENARIO_KEYS = {
    "exposed",
    "reads_allowed",
    "lookups",
    "detection_s",
    "attackers",
    "attackers_detected",
    "attackers_detected_late",
    "detection_s_worst",
    "containment_s",
    "containment_s_median",
    "accounts",
    "accounts_contained",
    "exposed_per_account_week_max",
}
LEGITIMATE_KEYS = {
    "professional_days",
    "challenges",
    "challenges_per_1000_days",
    "denied",
    "locked_accounts",
    "hard_cases",
}


def scenarios_in_truth(directory: Path) -> set[str]:
    """The labels of the attackers' events in the directory's ground truth."""
    truth = pq.read_table(directory / "truth.parquet").to_pylist()
    return {row["label"] for row in truth if row["attacker"] is not None}


def test_report_has_every_defence(evaluation_report: dict[str, Any], small_dir: Path) -> None:
    """The report names its directory and event count, and has all four defences."""
    assert evaluation_report["directory"] == str(small_dir)
    assert evaluation_report["events"] == pq.read_metadata(small_dir / "events.parquet").num_rows
    assert evaluation_report["rejected"] == 0
    assert set(evaluation_report["defences"]) == set(DEFENCES)


def test_report_has_the_stable_keys(evaluation_report: dict[str, Any], small_dir: Path) -> None:
    """Every defence reports every scenario of the truth with the documented keys, and the
    legitimate traffic's friction figures."""
    scenarios = scenarios_in_truth(small_dir)
    assert "incident-2022" in scenarios
    for name in DEFENCES:
        defence = evaluation_report["defences"][name]
        assert set(defence) == {"scenarios", "legitimate"}
        assert set(defence["scenarios"]) == scenarios, name
        for scenario, row in defence["scenarios"].items():
            assert set(row) >= SCENARIO_KEYS, (name, scenario)
            assert isinstance(row["exposed"], int)
            assert row["exposed"] >= 0
            assert 0 <= row["accounts_contained"] <= row["accounts"]
            for key in ("detection_s", "containment_s"):
                assert row[key] is None or row[key] >= 0, (name, scenario, key)
        legitimate = defence["legitimate"]
        assert set(legitimate) >= LEGITIMATE_KEYS, name
        assert legitimate["challenges_per_1000_days"] >= 0
        assert legitimate["denied"] >= 0
        assert legitimate["locked_accounts"] >= 0
        for case in legitimate["hard_cases"].values():
            assert set(case) == {"events", "challenges", "denied"}


def test_report_is_json(evaluation_report: dict[str, Any]) -> None:
    """The report survives a JSON round trip unchanged."""
    assert json.loads(json.dumps(evaluation_report)) == evaluation_report


def test_no_defence_exposure_equals_duckdb(
    evaluation_report: dict[str, Any], small_dir: Path
) -> None:
    """Without defence, each scenario's exposure is the number of distinct people its
    attackers read successfully or saw listed by a search, as DuckDB counts them from events
    and truth."""
    query = """
        WITH attack AS (
            SELECT truth.label, events.*
            FROM read_parquet(?) AS events
            JOIN read_parquet(?) AS truth USING (event_id)
            WHERE truth.attacker IS NOT NULL
        ),
        person AS (
            SELECT label, subject FROM attack
            WHERE kind = 'record_view' AND outcome = 'success' AND subject IS NOT NULL
            UNION ALL
            SELECT label, unnest(results) FROM attack WHERE kind = 'search'
        )
        SELECT label, count(DISTINCT subject) FROM person GROUP BY label
    """
    with duckdb.connect() as connection:
        rows = connection.execute(
            query, [str(small_dir / "events.parquet"), str(small_dir / "truth.parquet")]
        ).fetchall()
    oracle = dict.fromkeys(scenarios_in_truth(small_dir), 0)
    oracle.update({label: int(count) for label, count in rows})
    scenarios = evaluation_report["defences"]["no-defence"]["scenarios"]
    assert {name: row["exposed"] for name, row in scenarios.items()} == oracle
    assert oracle["incident-2022"] > 1_000
    harvest = scenarios["search-harvest"]
    assert harvest["exposed"] > 10 * harvest["reads_allowed"] > 0


def test_no_defence_never_detects_nor_refuses(evaluation_report: dict[str, Any]) -> None:
    """The no-defence baseline detects nothing, contains nothing and bothers nobody."""
    defence = evaluation_report["defences"]["no-defence"]
    for row in defence["scenarios"].values():
        assert row["detection_s"] is None
        assert row["containment_s"] is None
        assert row["accounts_contained"] == 0
        assert row["reads_allowed"] <= row["lookups"]
    assert defence["legitimate"]["challenges"] == 0
    assert defence["legitimate"]["denied"] == 0
    assert defence["legitimate"]["locked_accounts"] == 0


def test_rempart_exposes_no_more_than_no_defence(evaluation_report: dict[str, Any]) -> None:
    """In every scenario Rempart exposes at most what the undefended portal exposes."""
    rempart = evaluation_report["defences"]["rempart"]["scenarios"]
    undefended = evaluation_report["defences"]["no-defence"]["scenarios"]
    for scenario, row in rempart.items():
        assert row["exposed"] <= undefended[scenario]["exposed"], scenario


def test_eval_cli_json_equals_evaluate(evaluation_report: dict[str, Any], small_dir: Path) -> None:
    """``rempart eval DIR --thief fails --knowledge full --json`` prints exactly evaluate's
    dict, with no progress off a terminal."""
    result = CliRunner().invoke(
        main, ["eval", str(small_dir), "--thief", "fails", "--knowledge", "full", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == evaluation_report
    assert result.stderr == ""


@pytest.mark.slow
def test_eval_cli_reports_both_thieves_by_default(
    evaluation_report: dict[str, Any], small_dir: Path
) -> None:
    """Without --thief, ``rempart eval --json`` reports the failing and the silent thief."""
    result = CliRunner().invoke(main, ["eval", str(small_dir), "--knowledge", "full", "--json"])
    assert result.exit_code == 0, result.output
    both = json.loads(result.stdout)
    assert set(both) == {"fails", "silent"}
    assert both["fails"] == evaluation_report
    assert both["silent"]["thief"] == "silent"
    assert both["silent"]["defences"]["no-defence"] == evaluation_report["defences"]["no-defence"]


@pytest.mark.slow
def test_eval_cli_renders_every_defence(small_dir: Path, tmp_path: Path) -> None:
    """``rempart eval DIR`` with a policy file prints a table per defence."""
    policy = tmp_path / "policy.toml"
    policy.write_text("[budget]\nhour = 8\n")
    result = CliRunner().invoke(main, ["eval", str(small_dir), "--policy", str(policy)])
    assert result.exit_code == 0, result.output
    for name in DEFENCES:
        assert f"== {name}" in result.stdout


def test_replay_cli_writes_one_decision_per_event_in_order(small_dir: Path, tmp_path: Path) -> None:
    """``rempart replay`` writes one decision per event, with the events' ids in order (on the
    directory's first 8,000 events, as JSON Lines, to stay fast)."""
    events = list(itertools.islice(iter_records(small_dir / "events.parquet", Event, []), 8_000))
    source = tmp_path / "events.jsonl"
    write_records(source, events)
    out = tmp_path / "decisions.jsonl"
    result = run_replay(small_dir, source, out, "--evidence", str(small_dir / "evidence.parquet"))
    assert result.exit_code == 0, result.output
    decisions = [json.loads(line) for line in out.read_text().splitlines()]
    assert [d["event_id"] for d in decisions] == [event.event_id for event in events]
    verdicts = {d["verdict"] for d in decisions}
    assert verdicts <= {"allow", "challenge", "deny"}
    assert "allow" in verdicts
    assert f"{len(events):,} decisions" in result.stdout
    assert "0 bad records" in result.stdout


def test_replay_cli_exits_2_on_a_bad_policy(small_dir: Path, tmp_path: Path) -> None:
    """``rempart replay`` with a bad policy file exits 2 naming the key, writing nothing."""
    policy = tmp_path / "policy.toml"
    policy.write_text("[budget]\nhour = -1\n")
    out = tmp_path / "decisions.jsonl"
    result = run_replay(small_dir, small_dir / "events.parquet", out, "--policy", str(policy))
    assert result.exit_code == 2
    assert "budget.hour" in result.stderr
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("level", ["realistic", "none"])
def test_eval_cli_tells_the_guard_only_its_level_of_network_knowledge(
    evaluation_report: dict[str, Any], small_dir: Path, level: str
) -> None:
    """``--knowledge realistic|none`` names its level; the baselines, which read no network
    data, report exactly what they report at full knowledge."""
    result = CliRunner().invoke(
        main, ["eval", str(small_dir), "--thief", "fails", "--knowledge", level, "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["knowledge"] == level
    for baseline in DEFENCES[1:]:
        assert report["defences"][baseline] == evaluation_report["defences"][baseline]


def _replay_decisions(small_dir: Path, tmp_path: Path, name: str, *extra: str) -> list[str]:
    """The verdicts of ``rempart replay`` over the directory's events, with ``extra`` options."""
    out = tmp_path / f"{name}.jsonl"
    result = run_replay(small_dir, small_dir / "events.parquet", out, "-q", *extra)
    assert result.exit_code == 0, result.output
    return [json.loads(line)["verdict"] for line in out.read_text().splitlines()]


@pytest.mark.slow
def test_replay_cli_uses_the_network_table_it_is_given(small_dir: Path, tmp_path: Path) -> None:
    """``--networks FILE`` replaces the world's table: the world's own file gives the same
    verdicts as none given, a table with no ranges gives others, a bad file is refused."""
    default = _replay_decisions(small_dir, tmp_path, "default")
    own = small_dir / "world" / "networks.csv"
    assert _replay_decisions(small_dir, tmp_path, "own", "--networks", str(own)) == default
    empty = tmp_path / "empty.csv"
    empty.write_text("prefix,asn,operator,country,kind\n")
    assert _replay_decisions(small_dir, tmp_path, "empty", "--networks", str(empty)) != default
    bad = tmp_path / "bad.csv"
    bad.write_text("prefix,asn,operator,country,kind\nnot-a-prefix,1,X,FR,fixed\n")
    events = small_dir / "events.parquet"
    refused = run_replay(small_dir, events, tmp_path / "x.jsonl", "--networks", str(bad))
    assert refused.exit_code == 2
    assert "bad.csv" in refused.output
