"""Everything the writers produce conforms to the published JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import msgspec
import pytest

from rempart.events import Event
from rempart.ingestion import events_to_table, read_events, write_event_table, write_records
from rempart.schema import record_schema

from .conftest import CLEAR_NIR, sample_accounts, sample_events, sample_evidence, sample_sites


def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = record_schema(name)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


@pytest.mark.parametrize(
    ("name", "records"),
    [
        ("Event", sample_events()),
        ("CareEvidence", sample_evidence()),
        ("Site", sample_sites()),
        ("Account", sample_accounts()),
    ],
)
def test_written_records_match_the_schema(
    tmp_path: Path, name: str, records: list[msgspec.Struct]
) -> None:
    """Every JSON line written for each record type validates against its published schema."""
    path = tmp_path / "records.jsonl"
    write_records(path, records)
    validator = _validator(name)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(records)
    for line in lines:
        validator.validate(json.loads(line))


def test_table_jsonl_matches_the_schema(tmp_path: Path, events: list[Event]) -> None:
    """JSON Lines written from an Arrow table validate against the Event schema."""
    path = tmp_path / "events.jsonl"
    write_event_table(path, events_to_table(events))
    validator = _validator("Event")
    for line in path.read_text(encoding="utf-8").splitlines():
        validator.validate(json.loads(line))


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "bulk_export"},
        {"subject": CLEAR_NIR},
        {"nir": CLEAR_NIR},
        {"result_count": -1},
        {"subject_department": "96"},
    ],
)
def test_schema_and_reader_agree_on_bad_records(tmp_path: Path, change: dict[str, object]) -> None:
    """A record the schema refuses for its shape, the reader rejects too."""
    record = {**json.loads(msgspec.json.encode(sample_events()[-2])), **change}
    assert not _validator("Event").is_valid(record)
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert read_events(path).rejected_count == 1
