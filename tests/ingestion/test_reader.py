"""Choosing the format, unreadable inputs, validate_file and the rejects file."""

from __future__ import annotations

import stat
from pathlib import Path

import msgspec
import pytest

from rempart.errors import InputError
from rempart.evidence import CareEvidence
from rempart.ingestion import (
    RecordFormat,
    Rejected,
    format_of,
    read_events,
    validate_file,
    write_records,
    write_rejects,
)
from rempart.testing import make_event

from .conftest import CLEAR_NIR


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a.jsonl", RecordFormat.JSONL),
        ("A.JSONL.GZ", RecordFormat.JSONL_GZ),
        ("dir.v2/a.parquet", RecordFormat.PARQUET),
    ],
)
def test_format_by_suffix(name: str, expected: RecordFormat) -> None:
    """The format is chosen by suffix, case-insensitively, longest suffix first."""
    assert format_of(name) is expected


@pytest.mark.parametrize("name", ["events.csv", "events.json", "events.gz", "events"])
def test_unknown_suffix_raises_input_error(tmp_path: Path, name: str) -> None:
    """An unknown suffix raises InputError naming the path, even if the file exists."""
    path = tmp_path / name
    path.write_text("{}\n")
    with pytest.raises(InputError, match=name):
        read_events(path)


@pytest.mark.parametrize("name", ["missing.jsonl", "missing.parquet"])
def test_missing_file_raises_input_error(tmp_path: Path, name: str) -> None:
    """A missing file raises InputError naming it, before any iteration."""
    with pytest.raises(InputError, match=name):
        read_events(tmp_path / name)


def test_directory_is_not_a_file(tmp_path: Path) -> None:
    """A directory with a record suffix raises InputError."""
    (tmp_path / "events.jsonl").mkdir()
    with pytest.raises(InputError, match="no such file"):
        read_events(tmp_path / "events.jsonl")


def test_validate_file_writes_private_rejects(tmp_path: Path) -> None:
    """validate_file counts good and bad records and writes the rejects, owner-readable only."""
    path = tmp_path / "events.jsonl"
    bad = (
        msgspec.json.encode(make_event()).decode().replace("ps_aaaaaaaaaaaaaaaaaaaaaaab", CLEAR_NIR)
    )
    path.write_text(f"{msgspec.json.encode(make_event()).decode()}\n{bad}\n", encoding="utf-8")
    rejects = tmp_path / "rejects.jsonl"
    result = validate_file(path, rejects_path=rejects)
    assert (result.ok_count, result.rejected_count) == (1, 1)
    assert stat.S_IMODE(rejects.stat().st_mode) == 0o600
    (line,) = rejects.read_bytes().splitlines()
    assert msgspec.json.decode(line) == {
        "source": str(path),
        "line": 2,
        "field": "$.subject",
        "message": "Expected `str` matching regex '^ps_[a-z2-7]{24}$'",
        "raw": bad,
    }


def test_validate_file_other_record_types(tmp_path: Path, evidence: list[CareEvidence]) -> None:
    """validate_file reads any record type and writes an empty rejects file when all is well."""
    path = tmp_path / "evidence.parquet"
    write_records(path, evidence)
    rejects = tmp_path / "rejects.jsonl.gz"
    result = validate_file(path, CareEvidence, rejects)
    assert result.records == evidence
    assert rejects.exists()
    assert validate_file(path, CareEvidence).ok_count == len(evidence)


def test_rejects_round_trip(tmp_path: Path) -> None:
    """A rejects file reads back as the same Rejected records."""
    rejected = [
        Rejected(source="e.jsonl", line=3, field="$.kind", message="m", raw="{}"),
        Rejected(source="e.jsonl", line=9, field=None, message="Input data was truncated", raw="{"),
    ]
    path = tmp_path / "rejects.jsonl"
    assert write_rejects(path, rejected) == 2
    decoded = msgspec.json.Decoder(Rejected)
    assert [decoded.decode(line) for line in path.read_bytes().splitlines()] == rejected
