"""Exporting a replay's decisions: the registry, the join with the events, every format valid."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings

from rempart.decision import Decision, Verdict
from rempart.errors import ConfigError, RecordError
from rempart.events import Event, EventKind
from rempart.ingestion import write_records
from rempart.replay.baselines import AccountRateLimit
from rempart.replay.replay import replay
from rempart.soc import (
    ExportSummary,
    FormatRegistry,
    SyslogFormat,
    _paired,
    default_formats,
    export_decisions,
)
from rempart.soc.ecs import ecs_document
from rempart.soc.ocsf import ocsf_events
from rempart.testing import make_event, pseudonym_for

from .cases import T0, decided
from .specs import check_ecs, check_ocsf, check_syslog


class Verdicts:
    """A third party's format: one line with the verdict."""

    name = "verdicts"

    def render(self, decision: Decision, event: Event | None) -> Iterator[bytes]:
        """The verdict, and the account when the event is known."""
        account = event.account if event is not None else "?"
        yield f"{decision.verdict.value} {account}".encode()


def _events(count: int, seed: int) -> list[Event]:
    """Reads by three accounts, one every 2 s, then shuffled by up to 4 s as real logs are."""
    rng = random.Random(seed)
    events = [
        make_event(
            event_id=f"ev{n}",
            kind=EventKind.RECORD_VIEW,
            account=f"A{n % 3:05d}",
            ip=f"198.51.100.{n % 250}",
            subject=pseudonym_for(n),
            time=T0 + timedelta(seconds=2 * n),
        )
        for n in range(count)
    ]
    return sorted(events, key=lambda event: event.time.timestamp() + rng.uniform(0, 4))


@pytest.fixture
def replayed(tmp_path: Path) -> tuple[Path, Path, dict[str, Event]]:
    """An events file out of order within the reorder window, and its replay's decisions."""
    events = _events(300, seed=7)
    write_records(tmp_path / "events.jsonl", events)
    decisions = list(replay(events, [], AccountRateLimit(limit=30)))
    write_records(tmp_path / "decisions.jsonl", decisions)
    return tmp_path / "decisions.jsonl", tmp_path / "events.jsonl", {e.event_id: e for e in events}


def _lines(out: io.BytesIO) -> list[bytes]:
    return out.getvalue().splitlines()


def test_the_default_registry_offers_the_three_formats() -> None:
    """The built-in formats are registered by name, in order."""
    formats = default_formats()
    assert formats.names() == ("ecs", "ocsf", "syslog")
    assert len(formats) == 3
    assert "syslog" in formats
    assert [export_format.name for export_format in formats] == ["ecs", "ocsf", "syslog"]


def test_an_unknown_format_is_a_config_error_naming_the_known_ones() -> None:
    """Asking for a format nobody registered raises ConfigError listing the registered ones."""
    with pytest.raises(ConfigError, match="format: expected one of ecs, ocsf, syslog, got 'cef'"):
        default_formats()["cef"]


def test_a_name_registers_once() -> None:
    """Registering a second format under a taken name is refused."""
    formats = default_formats()
    with pytest.raises(ValueError, match="already registered"):
        formats.register(SyslogFormat())
    formats.register(SyslogFormat(name="syslog-local0"))
    assert formats.names()[-1] == "syslog-local0"


def test_a_third_party_format_registers_and_exports_like_a_built_in(
    replayed: tuple[Path, Path, dict[str, Event]],
) -> None:
    """A format registered by a third party is exported by name, with the events joined."""
    decisions, events, _ = replayed
    formats = FormatRegistry()
    formats.register(Verdicts())
    out = io.BytesIO()
    summary = export_decisions(decisions, "verdicts", out, events=events, formats=formats)
    assert summary.records == summary.decisions == 300
    assert _lines(out)[0] == b"allow A00000"


def test_each_decision_gets_its_own_event_from_a_shuffled_events_file(
    replayed: tuple[Path, Path, dict[str, Event]],
) -> None:
    """Every exported document carries the account and address of the event with its id."""
    decisions, events, by_id = replayed
    out = io.BytesIO()
    summary = export_decisions(decisions, "ecs", out, events=events)
    assert summary == ExportSummary(decisions=300, records=300, unmatched=0, rejected=[])
    documents: list[dict[str, Any]] = [msgspec.json.decode(line) for line in _lines(out)]
    for document in documents:
        check_ecs(document)
        event = by_id[document["event"]["id"]]
        assert document["user"]["name"] == event.account
        assert document["source"]["ip"] == event.ip
        assert document["rempart"]["subject"] == event.subject
    verdicts = {document["labels"]["verdict"] for document in documents}
    assert verdicts == {"allow", "deny"}


def test_ocsf_writes_a_finding_line_after_each_alert(
    replayed: tuple[Path, Path, dict[str, Event]],
) -> None:
    """OCSF writes one activity per decision and one finding per refusal."""
    decisions, events, _ = replayed
    out = io.BytesIO()
    summary = export_decisions(decisions, "ocsf", out, events=events)
    documents = [msgspec.json.decode(line) for line in _lines(out)]
    findings = [document for document in documents if document["class_uid"] == 2004]
    assert summary.records == len(documents) == 300 + len(findings)
    assert findings
    for document in documents:
        check_ocsf(document)


def test_syslog_writes_one_valid_line_per_decision(
    replayed: tuple[Path, Path, dict[str, Event]],
) -> None:
    """The syslog format writes one strict RFC 5424 line per decision to a file."""
    decisions, events, by_id = replayed
    out = io.BytesIO()
    export_decisions(decisions, "syslog", out, events=events)
    lines = _lines(out)
    assert len(lines) == 300
    for line in lines:
        params = dict(check_syslog(line)["elements"]["rempart@32473"])
        assert params["account"] == by_id[params["event_id"]].account


def test_without_the_events_file_every_decision_is_exported_alone(
    replayed: tuple[Path, Path, dict[str, Event]],
) -> None:
    """With no events file the decisions are exported from what they say, all unmatched."""
    decisions, _, _ = replayed
    out = io.BytesIO()
    summary = export_decisions(decisions, "ecs", out)
    assert (summary.decisions, summary.unmatched) == (300, 300)
    for line in _lines(out):
        document = msgspec.json.decode(line)
        check_ecs(document)
        assert "user" not in document


def test_a_decision_whose_event_is_missing_is_exported_alone(tmp_path: Path) -> None:
    """A decision whose event is not in the events file is counted unmatched; the rest joined."""
    events = [make_event(event_id=f"ev{n}", time=T0 + timedelta(seconds=n)) for n in range(5)]
    write_records(tmp_path / "events.jsonl", events[:2] + events[3:])
    decisions = [Decision(event_id=e.event_id, verdict=Verdict.ALLOW, time=e.time) for e in events]
    write_records(tmp_path / "decisions.jsonl", decisions)
    out = io.BytesIO()
    summary = export_decisions(
        tmp_path / "decisions.jsonl", "ecs", out, events=tmp_path / "events.jsonl"
    )
    assert summary.unmatched == 1
    joined = ["user" in msgspec.json.decode(line) for line in _lines(out)]
    assert joined == [True, True, False, True, True]


def test_bad_lines_in_either_file_are_collected_and_the_rest_exported(tmp_path: Path) -> None:
    """A bad decision line and a bad event line are rejected with their location; others go out."""
    event = make_event(event_id="ev1")
    (tmp_path / "events.jsonl").write_bytes(
        b'{"kind": "nope"}\n' + msgspec.json.encode(event) + b"\n"
    )
    decision = Decision(event_id="ev1", verdict=Verdict.DENY, time=event.time)
    (tmp_path / "decisions.jsonl").write_bytes(
        msgspec.json.encode(decision) + b'\n{"verdict": "maybe"}\n'
    )
    out = io.BytesIO()
    summary = export_decisions(
        tmp_path / "decisions.jsonl", "ocsf", out, events=tmp_path / "events.jsonl"
    )
    assert (summary.decisions, summary.records, summary.unmatched) == (1, 2, 0)
    assert sorted((Path(r.source).name, r.line) for r in summary.rejected) == [
        ("decisions.jsonl", 2),
        ("events.jsonl", 1),
    ]


def test_a_decision_with_neither_time_nor_event_stops_the_export_located(tmp_path: Path) -> None:
    """An undated decision without its event raises RecordError at its position."""
    write_records(
        tmp_path / "decisions.jsonl",
        [
            Decision(event_id="ev1", verdict=Verdict.ALLOW, time=T0),
            Decision(event_id="ev2", verdict=Verdict.ALLOW),
        ],
    )
    with pytest.raises(RecordError, match=r"decisions.jsonl:2: \$.time: decision 'ev2'"):
        export_decisions(tmp_path / "decisions.jsonl", "ecs", io.BytesIO())


def test_a_negative_reorder_window_is_refused(tmp_path: Path) -> None:
    """The read-ahead window is a number of seconds, 0 or more."""
    with pytest.raises(ConfigError, match="reorder_window"):
        export_decisions(tmp_path / "d.jsonl", "ecs", io.BytesIO(), reorder_window=-1)


def test_the_join_reads_the_events_only_as_far_as_the_window() -> None:
    """For each decision, events are read no further than its time plus the window (and one)."""
    events = _events(400, seed=3)
    consumed: list[Event] = []

    def reading() -> Iterator[Event]:
        for event in events:
            consumed.append(event)
            yield event

    window = timedelta(seconds=5)
    decisions = [
        Decision(event_id=d.event_id, verdict=d.verdict, time=d.time)
        for d in replay(events, [], AccountRateLimit())
    ]
    for decision, event in _paired(decisions, reading(), window):
        assert event is not None
        assert event.event_id == decision.event_id
        assert decision.time is not None
        beyond = [e for e in consumed if e.time > decision.time + window]
        assert len(beyond) <= 1


@settings(max_examples=150, deadline=None)
@given(decided())
def test_any_decision_is_valid_in_every_format(pair: tuple[Decision, Event | None]) -> None:
    """Whatever the decision and its event, ECS, OCSF and syslog (even 480 octets) stay valid."""
    decision, event = pair
    check_ecs(ecs_document(decision, event))
    for document in ocsf_events(decision, event):
        check_ocsf(document)
    for max_length in (2048, 480):
        message = SyslogFormat(max_length=max_length).message(decision, event)
        parts = check_syslog(message, max_length=max_length)
        params = dict(parts["elements"]["rempart@32473"])
        assert params["verdict"] == decision.verdict.value
    for line in default_formats()["ecs"].render(decision, event):
        assert b"\n" not in line


def test_a_nir_in_the_user_agent_never_reaches_the_siem(tmp_path: Path) -> None:
    """A client that puts a patient's NIR in its user agent: every format gets it redacted."""
    nir = "253072B07300470"
    event = make_event(event_id="ev1", user_agent=f"bot/1.0 {nir}")
    write_records(tmp_path / "events.jsonl", [event])
    write_records(
        tmp_path / "decisions.jsonl",
        [Decision(event_id="ev1", verdict=Verdict.DENY, time=event.time)],
    )
    for name in ("ecs", "ocsf", "syslog"):
        out = io.BytesIO()
        export_decisions(tmp_path / "decisions.jsonl", name, out, events=tmp_path / "events.jsonl")
        assert nir.encode() not in out.getvalue()
        assert b"<redacted>" in out.getvalue()
