"""Care evidence: dated facts, and standing relationships that a record ends."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import msgspec
import pytest

from rempart.evidence import STANDING_KINDS, CareEvidence, EvidenceKind
from rempart.ingestion import read_records
from rempart.schema import record_schema
from rempart.testing import pseudonym_for

T0 = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SUBJECT = pseudonym_for(1)
DATED = sorted(set(EvidenceKind) - STANDING_KINDS)


def test_standing_kinds_are_the_relationships() -> None:
    """A treating doctor, a long-term-condition protocol and a pharmacy's regular stand."""
    assert {
        EvidenceKind.TREATING_DOCTOR,
        EvidenceKind.ALD_PROTOCOL,
        EvidenceKind.REGULAR_PATIENT,
    } == STANDING_KINDS
    assert {kind.value for kind in STANDING_KINDS} == {
        "treating_doctor",
        "ald_protocol",
        "regular_patient",
    }


@pytest.mark.parametrize("kind", sorted(STANDING_KINDS))
def test_a_standing_relationship_round_trips_with_its_end(kind: EvidenceKind) -> None:
    """A standing record keeps ``ended`` through its dict and JSON forms."""
    record = CareEvidence(time=T0, kind=kind, subject=SUBJECT, account="A1", ended=T0 + 5 * DAY)
    assert record.standing
    assert CareEvidence.from_dict(json.loads(msgspec.json.encode(record))) == record
    assert record.to_dict()["ended"] == "2022-03-06T09:00:00Z"


def test_a_record_without_an_end_omits_it() -> None:
    """A record written before ``ended`` existed is still valid, and is written the same."""
    old = {"time": "2022-03-01T09:00:00Z", "kind": "treating_doctor", "subject": SUBJECT}
    record = CareEvidence.from_dict({**old, "account": "A1"})
    assert record.ended is None
    assert "ended" not in record.to_dict()


@pytest.mark.parametrize("kind", DATED)
def test_an_end_on_dated_evidence_is_refused_and_located(
    kind: EvidenceKind, tmp_path: Path
) -> None:
    """Only a standing relationship ends: ``ended`` on a dated kind is a located error, in
    the model, in a file, and in the published schema."""
    record = {
        "time": "2022-03-01T09:00:00Z",
        "kind": kind.value,
        "subject": SUBJECT,
        "site": "S1",
        "ended": "2022-03-02T09:00:00Z",
    }
    with pytest.raises(msgspec.ValidationError, match=r"only a standing relationship ends"):
        CareEvidence.from_dict(record)
    path = tmp_path / "evidence.jsonl"
    good = {**record, "kind": "treating_doctor"}
    path.write_text(json.dumps(good) + "\n" + json.dumps(record) + "\n", encoding="utf-8")
    result = read_records(path, CareEvidence)
    assert [r.kind for r in result.records] == [EvidenceKind.TREATING_DOCTOR]
    (rejected,) = result.rejected
    assert (rejected.line, rejected.field) == (2, "$.ended")
    assert kind.value in rejected.message


def test_the_published_schema_accepts_an_end() -> None:
    """An independent validator accepts a standing record with ``ended`` and a dated one
    without it (the cross-field rule is the model's, and the API spec's)."""
    validator = jsonschema.Draft202012Validator(record_schema("CareEvidence"))
    ended = CareEvidence(
        time=T0, kind=EvidenceKind.TREATING_DOCTOR, subject=SUBJECT, account="A1", ended=T0
    )
    claim = CareEvidence(time=T0, kind=EvidenceKind.CLAIM, subject=SUBJECT, site="S1")
    for record in (ended, claim):
        assert not list(validator.iter_errors(json.loads(msgspec.json.encode(record))))
    assert list(validator.iter_errors({**ended.to_dict(), "ended": 5}))
