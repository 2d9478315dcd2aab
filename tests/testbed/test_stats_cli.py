"""`rempart stats` on a simulated directory."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from rempart.cli import main


def test_stats_prints_targets_and_passes(small_dir: Path) -> None:
    """The report lists each figure with its target and exits 0 when all hold."""
    result = CliRunner().invoke(main, ["stats", str(small_dir)])
    assert result.exit_code == 0, result.output
    assert "legitimate.unexplained_share" in result.output
    assert "hospital audits explain" in result.output


def test_stats_json_has_scenarios(small_dir: Path) -> None:
    """The JSON report carries every scenario's counts and the overall verdict."""
    result = CliRunner().invoke(main, ["stats", str(small_dir), "--json"])
    report = json.loads(result.output)
    assert report["all_hold"] is True
    assert report["scenarios"]["incident-2022"]["attackers"] == 19
    assert report["totals"]["professional_days"] > 1_000
