"""`rempart export`: a decisions file into ECS, OCSF or syslog, on a file or to a collector."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from rempart.cli import main
from rempart.decision import Decision, Verdict
from rempart.ingestion import write_records
from rempart.testing import make_event


def _files(tmp_path: Path) -> tuple[Path, Path]:
    events = [make_event(event_id=f"ev{i}") for i in range(3)]
    decisions = [
        Decision(event_id=e.event_id, verdict=v, time=e.time)
        for e, v in zip(events, (Verdict.ALLOW, Verdict.CHALLENGE, Verdict.DENY), strict=True)
    ]
    write_records(tmp_path / "events.jsonl", events)
    write_records(tmp_path / "decisions.jsonl", decisions)
    return tmp_path / "events.jsonl", tmp_path / "decisions.jsonl"


def test_export_ecs_to_a_file(tmp_path: Path) -> None:
    """Each decision becomes one ECS document, the non-allow ones alerts."""
    events, decisions = _files(tmp_path)
    out = tmp_path / "ecs.jsonl"
    result = CliRunner().invoke(
        main,
        [
            "export",
            str(decisions),
            "--format",
            "ecs",
            "--events",
            str(events),
            "--out",
            str(out),
            "-q",
        ],
    )
    assert result.exit_code == 0, result.output
    kinds = [json.loads(line)["event"]["kind"] for line in out.read_text().splitlines()]
    assert kinds == ["event", "alert", "alert"]


def test_syslog_url_needs_the_syslog_format(tmp_path: Path) -> None:
    """--syslog with another format is a clean configuration error, exit code 2."""
    _, decisions = _files(tmp_path)
    result = CliRunner().invoke(
        main, ["export", str(decisions), "--format", "ocsf", "--syslog", "udp://127.0.0.1:9"]
    )
    assert result.exit_code == 2
    assert "--syslog" in result.stderr
