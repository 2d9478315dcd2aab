"""``rempart ingest``'s library call: streams sources into the archive, every bad line located."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rempart.errors import ConfigError, InputError
from rempart.ingestion import write_records
from rempart.ingestion.archive import EventArchive
from rempart.ingestion.ingest import ingest
from rempart.testing import make_event

from .conftest import CLEAR_NIR


def test_bad_lines_go_to_the_rejects_file_located(tmp_path: Path) -> None:
    """Good lines are archived; each bad one is in the rejects file with its line, never lost."""
    source = tmp_path / "events.jsonl"
    good = make_event(event_id="e1").to_dict()
    good["time"] = "2022-03-01T09:00:00Z"
    lines = [json.dumps(good), "{not json", json.dumps({**good, "subject": CLEAR_NIR})]
    source.write_text("\n".join(lines) + "\n")
    archive = EventArchive(tmp_path / "archive")
    report = ingest([source], "rempart", archive, rejects=tmp_path / "rejects.jsonl")
    assert (report.events, report.added, report.rejected) == (1, 1, 2)
    rejects = [json.loads(line) for line in (tmp_path / "rejects.jsonl").read_text().splitlines()]
    assert [r["line"] for r in rejects] == [2, 3]
    assert all(CLEAR_NIR not in r["message"] for r in rejects)
    assert all(CLEAR_NIR not in message for message in report.first_rejects)
    assert (tmp_path / "rejects.jsonl").stat().st_mode & 0o077 == 0


def test_two_sources_and_a_second_run(tmp_path: Path) -> None:
    """Two files are read in turn; ingesting them again adds nothing."""
    write_records(tmp_path / "a.parquet", [make_event(event_id="a1"), make_event(event_id="a2")])
    write_records(tmp_path / "b.jsonl.gz", [make_event(event_id="b1"), make_event(event_id="a2")])
    archive = EventArchive(tmp_path / "archive")
    sources = [tmp_path / "a.parquet", tmp_path / "b.jsonl.gz"]
    first = ingest(sources, "rempart", archive)
    assert (first.sources, first.events, first.added, first.duplicates) == (2, 4, 3, 1)
    again = ingest(sources, "rempart", archive)
    assert (again.added, again.duplicates) == (0, 4)


def test_a_missing_source_fails_before_anything_is_read(tmp_path: Path) -> None:
    """A source that does not exist is an InputError naming it, and the archive is untouched."""
    write_records(tmp_path / "a.jsonl", [make_event()])
    archive = EventArchive(tmp_path / "archive")
    with pytest.raises(InputError, match=r"missing\.log: no such file"):
        ingest([tmp_path / "a.jsonl", tmp_path / "missing.log"], "rempart", archive)
    assert archive.count() == 0


def test_an_unknown_format_is_a_config_error(tmp_path: Path) -> None:
    """An unregistered format name is refused, naming the formats known."""
    write_records(tmp_path / "a.jsonl", [make_event()])
    with pytest.raises(ConfigError, match="format"):
        ingest([tmp_path / "a.jsonl"], "syslog-ng", EventArchive(tmp_path / "archive"))
