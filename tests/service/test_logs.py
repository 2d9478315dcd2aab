"""JSON log lines of the decision API: one per decision, lean, and never a clear NIR."""

from __future__ import annotations

import io
import json

import pytest

from rempart.nir import make_nir
from rempart.service.logs import NIR_LIKE, make_logger, mask_nir

from .world import NIR, Portal, Service


def test_one_json_line_per_decision_with_its_verdict_reasons_and_latency() -> None:
    """Each decision logs event id, kind, account, verdict, reason codes and latency, and
    nothing about the patient."""
    service, portal = Service(), Portal()
    client = service.client()
    client.post("/v1/decide", json=portal.login())
    read = portal.read()
    client.post("/v1/decide", json=read)
    lines = [line for line in service.log_lines() if line["event"] == "decision"]
    assert [line["event_id"] for line in lines] == ["ev000001", "ev000002"]
    last = lines[-1]
    assert last["account"] == "A1"
    assert last["kind"] == "record_view"
    assert last["verdict"] == "allow"
    assert last["reasons"] == []
    assert last["level"] == "info"
    assert last["latency_us"] > 0
    assert read["subject"] not in service.logs.getvalue()


@pytest.mark.parametrize(
    "field", ["user_agent", "event_id", "account", "session", "kind", "subject_department"]
)
@pytest.mark.parametrize("nir", [NIR, "1 53 07 2B 073 004 70", make_nir(1, 1980, 5, "75056", 12)])
def test_no_clear_nir_is_logged_whatever_field_carries_it(field: str, nir: str) -> None:
    """A NIR put in any field of an event (valid or rejected, echoed by the validation
    message or not) never reaches the log."""
    service = Service()
    event = Portal().login()
    event[field] = f"x{nir}"  # rejected for kind and subject_department, accepted otherwise
    response = service.client().post("/v1/decide", json=event)
    assert response.status_code in (200, 422)
    log = service.logs.getvalue()
    assert log
    assert nir not in log
    assert nir.replace(" ", "") not in log.replace(" ", "")


def test_mask_nir_reaches_nested_values_and_leaves_other_numbers() -> None:
    """The processor masks NIRs inside nested dicts and lists, not timestamps or counts."""
    masked = mask_nir(
        None,
        "info",
        {"event": "x", "nested": {"list": [f"id {NIR}", 12345678901]}, "t": "2022-03-01"},
    )
    assert masked == {
        "event": "x",
        "nested": {"list": ["id [NIR]", 12345678901]},
        "t": "2022-03-01",
    }


def test_nir_pattern_matches_compact_grouped_and_corsican_numbers() -> None:
    """Compact, spaced, with or without key, and 2A/2B departments all match."""
    for text in (NIR, "2 53 07 2B 073 004 70", NIR[:13], make_nir(2, 1990, 1, "2A004", 1)):
        assert NIR_LIKE.search(text), text
    for text in ("2022-03-01T09:00:00Z", "ev000001", "90.12.34.56", "1234567"):
        assert not NIR_LIKE.search(text), text


def test_logger_writes_json_lines_to_the_given_stream() -> None:
    """Each call writes one parsable JSON object with level and timestamp."""
    stream = io.StringIO()
    logger = make_logger(stream)
    logger.info("one", n=1)
    logger.warning("two")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (first["event"], first["n"], first["level"]) == ("one", 1, "info")
    assert second["level"] == "warning"
    assert "timestamp" in first
