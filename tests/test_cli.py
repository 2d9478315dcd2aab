"""The command line: clean errors, located bad records, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from rempart.cli import main
from rempart.testing import make_event


def test_validate_reports_located_errors_and_keeps_good(tmp_path: Path) -> None:
    """`rempart validate` prints file:line: field for each bad record and counts the good ones."""
    good = json.dumps(make_event().to_dict())
    lines = [
        good,
        good.replace('"record_view"', '"teleport"'),
        good.replace("2022-03-01T09:00:00Z", "yesterday"),
        good.replace('"ip": "90.12.34.56"', '"ip": 12'),
        good[:40],
        good,
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(lines) + "\n")
    rejects = tmp_path / "bad.jsonl"
    result = CliRunner().invoke(main, ["validate", str(events), "--rejects", str(rejects)])
    assert result.exit_code == 1
    assert "2 good, 4 rejected" in result.stdout
    assert f"{events}:2: $.kind" in result.stderr
    assert f"{events}:3: $.time" in result.stderr
    assert f"{events}:4: $.ip" in result.stderr
    assert f"{events}:5:" in result.stderr
    kept = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [k["line"] for k in kept] == [2, 3, 4, 5]


def test_unknown_preset_is_a_clean_error(tmp_path: Path) -> None:
    """An unknown preset exits 2 with a message naming the key and the choices."""
    result = CliRunner().invoke(main, ["simulate", "--preset", "huge", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "preset: expected one of small, incident-2022, bench" in result.stderr


def test_missing_file_is_a_clean_error(tmp_path: Path) -> None:
    """Validating a missing file exits 2 with the path, no traceback."""
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert "nope.jsonl" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_refuses_a_bad_network_table_before_listening(tmp_path: Path) -> None:
    """``rempart serve --networks FILE`` reads the table at start-up: a bad row stops it with
    exit 2 and the file's name, before any port is opened."""
    world = tmp_path / "world"
    world.mkdir()
    (world / "sites.jsonl").write_text("")
    (world / "accounts.jsonl").write_text("")
    keys = tmp_path / "keys.json"
    assert CliRunner().invoke(main, ["keys", "add", "portal", "--keys", str(keys)]).exit_code == 0
    bad = tmp_path / "bad-networks.csv"
    bad.write_text("prefix,asn,operator,country,kind\nnot-a-prefix,1,X,FR,fixed\n")
    result = CliRunner().invoke(
        main,
        ["serve", "--world", str(world), "--keys", str(keys), "--networks", str(bad)],
    )
    assert result.exit_code == 2
    assert "bad-networks.csv" in result.output
