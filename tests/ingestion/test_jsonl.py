"""JSON Lines reading and writing: round trips, located rejects, and fuzzing."""

from __future__ import annotations

import gzip
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rempart.directory import Account, Site
from rempart.errors import InputError
from rempart.events import Event
from rempart.evidence import CareEvidence
from rempart.ingestion import iter_records, read_events, read_records, write_records
from rempart.ingestion.rejected import Rejected
from rempart.testing import make_event

from .conftest import CLEAR_NIR, sample_accounts, sample_events, sample_evidence, sample_sites

GOOD = msgspec.json.encode(make_event()).decode()


def _line(**changes: object) -> str:
    """The good event line with some fields replaced (``None`` removes a field)."""
    record = msgspec.json.decode(GOOD)
    for key, value in changes.items():
        if value is None:
            record.pop(key, None)
        else:
            record[key] = value
    return msgspec.json.encode(record).decode()


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_events_round_trip(tmp_path: Path, events: list[Event], suffix: str) -> None:
    """Events written as JSON Lines (plain or gzip) read back equal, in order, with no rejects."""
    path = tmp_path / f"events{suffix}"
    assert write_records(path, events) == len(events)
    result = read_events(path)
    assert result.records == events
    assert result.rejected == []
    assert (result.ok_count, result.rejected_count, result.source) == (len(events), 0, str(path))


def test_each_line_is_msgspec_encoding(tmp_path: Path, events: list[Event]) -> None:
    """Each written line is exactly ``msgspec.json.encode(event)``, defaults omitted."""
    path = tmp_path / "events.jsonl"
    write_records(path, events)
    lines = path.read_bytes().split(b"\n")
    assert lines == [msgspec.json.encode(event) for event in events] + [b""]
    assert b'"outcome"' not in lines[0]


@pytest.mark.parametrize(
    ("record_type", "records"),
    [
        (CareEvidence, sample_evidence()),
        (Site, sample_sites()),
        (Account, sample_accounts()),
    ],
)
def test_other_records_round_trip(
    tmp_path: Path, record_type: type[msgspec.Struct], records: list[msgspec.Struct]
) -> None:
    """Care evidence, sites and accounts round-trip through JSON Lines."""
    path = tmp_path / "records.jsonl"
    write_records(path, records)
    result = read_records(path, record_type)
    assert result.records == records
    assert result.rejected == []


MALFORMED: list[tuple[str, str | None]] = [
    # (line text, expected field); good lines carry None and must be kept.
    (GOOD, None),
    (_line(result_count="12", kind="search", subject=None, categories=None), "$.result_count"),
    (_line(kind="bulk_export"), "$.kind"),
    ("", None),
    (_line(time="2022-03-01T09:00:00"), "$.time"),
    (_line(time="yesterday at nine"), "$.time"),
    (_line(nir=CLEAR_NIR), "$.nir"),
    ("   \t", None),
    (_line(event_id="ev2"), None),
    (_line(subject=CLEAR_NIR), "$.subject"),
    (_line(subject=None), "$.subject"),
    (_line(kind="login_success", account=None, subject=None), "$.account"),
    (_line(event_id="ev3"), None),
    (GOOD[:40], None),  # truncated last line, no newline
]


def _write_malformed(path: Path) -> None:
    path.write_text("\n".join(text for text, _ in MALFORMED), encoding="utf-8")


def test_malformed_file_locates_every_bad_line(tmp_path: Path) -> None:
    """Each bad line gives one Rejected with its 1-based line and JSON path; good lines are kept."""
    path = tmp_path / "events.jsonl"
    _write_malformed(path)
    result = read_events(path)
    assert [event.event_id for event in result.records] == ["ev000000001", "ev2", "ev3"]
    located = [(r.line, r.field) for r in result.rejected]
    expected = [
        (number, field)
        for number, (text, field) in enumerate(MALFORMED, start=1)
        if field is not None
    ] + [(len(MALFORMED), None)]
    assert located == expected
    blank = sum(1 for text, _ in MALFORMED if not text.strip())
    assert result.ok_count + result.rejected_count == len(MALFORMED) - blank
    assert all(r.source == str(path) for r in result.rejected)


def test_malformed_messages_say_what_is_wrong(tmp_path: Path) -> None:
    """Messages name the problem: truncation, enum, timezone, unknown field, cross-field check."""
    path = tmp_path / "events.jsonl"
    _write_malformed(path)
    messages = {r.line: r.message for r in read_events(path).rejected}
    assert messages[len(MALFORMED)] == "Input data was truncated"
    assert messages[3] == "Invalid enum value 'bulk_export'"
    assert "timezone" in messages[5]
    assert messages[7] == "Object contains unknown field `nir`"
    assert messages[11] == "a successful record_view needs a subject and categories"
    assert messages[12] == "required for kind 'login_success'"


def test_clear_nir_is_kept_aside_not_echoed(tmp_path: Path) -> None:
    """A clear NIR reaches the raw text only: never the message, field, repr or located error."""
    path = tmp_path / "events.jsonl"
    lines = [
        _line(subject=CLEAR_NIR),
        _line(ip="2 53 07 2B 073 004 70"),
        _line(kind=CLEAR_NIR),
        GOOD.replace('"ip"', f'"{CLEAR_NIR}":1,"ip"'),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejected = read_events(path).rejected
    assert len(rejected) == len(lines)
    for item in rejected:
        shown = f"{item!r} {item.to_error()} {item.field} {item.message}"
        assert CLEAR_NIR not in shown
        assert "2B 073" not in shown
        assert "<redacted>" in shown or item.field in ("$.subject", "$.ip")
    assert all(CLEAR_NIR in item.raw or "2B 073" in item.raw for item in rejected)


def test_raw_is_truncated(tmp_path: Path) -> None:
    """A huge bad line keeps only its first 2,000 characters as raw text."""
    path = tmp_path / "events.jsonl"
    path.write_text(_line(user_agent="é" * 5000) + "\n", encoding="utf-8")
    (rejected,) = read_events(path).rejected
    assert rejected.field == "$.user_agent"
    assert len(rejected.raw) == 2000
    assert rejected.raw.startswith('{"time"')


def test_crlf_and_byte_order_mark_are_accepted(tmp_path: Path) -> None:
    """Windows line ends and a leading UTF-8 byte order mark do not reject good lines."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode() + b"\r\n\r\n" + GOOD.encode() + b"\r\n")
    result = read_events(path)
    assert (result.ok_count, result.rejected_count) == (2, 0)


def test_iter_records_streams_and_collects(tmp_path: Path) -> None:
    """iter_records yields good records lazily and appends rejects as it reaches them."""
    path = tmp_path / "events.jsonl"
    path.write_text(f"{GOOD}\nnot json\n{GOOD}\n", encoding="utf-8")
    rejected: list[Rejected] = []
    stream = iter_records(path, Event, rejected)
    assert next(stream) == make_event()
    assert rejected == []
    assert next(stream) == make_event()
    assert [r.line for r in rejected] == [2]
    assert list(stream) == []


def test_broken_gzip_raises_input_error(tmp_path: Path) -> None:
    """A gzip stream cut short raises InputError naming the file."""
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress((GOOD + "\n").encode() * 1000)[:-20])
    with pytest.raises(InputError, match=r"events\.jsonl\.gz"):
        read_events(path)


_VALID_LINES = [msgspec.json.encode(event) for event in sample_events()]


@st.composite
def _lines(draw: st.DrawFn) -> bytes:
    """A line that is random bytes, or a valid event line with a slice overwritten."""
    if draw(st.booleans()):
        return draw(st.binary(max_size=120))
    base = draw(st.sampled_from(_VALID_LINES))
    start = draw(st.integers(0, len(base)))
    end = draw(st.integers(start, len(base)))
    return base[:start] + draw(st.binary(max_size=12)) + base[end:]


@settings(max_examples=150, deadline=None)
@given(lines=st.lists(_lines(), max_size=12))
def test_random_lines_never_crash_the_reader(
    tmp_path_factory: pytest.TempPathFactory, lines: list[bytes]
) -> None:
    """Every non-blank line of arbitrary bytes becomes exactly one record or one Rejected."""
    data = b"\n".join(lines)
    path = tmp_path_factory.mktemp("fuzz") / "events.jsonl"
    path.write_bytes(data)
    physical = data.split(b"\n")
    physical[0] = physical[0].removeprefix(b"\xef\xbb\xbf")
    non_blank = [n for n, line in enumerate(physical, start=1) if line.strip(b" \t\r\n")]
    result = read_events(path)
    assert result.ok_count + result.rejected_count == len(non_blank)
    assert {r.line for r in result.rejected} <= set(non_blank)
    assert len({r.line for r in result.rejected}) == result.rejected_count
