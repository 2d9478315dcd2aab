"""Locating msgspec errors and keeping clear identifiers out of what gets logged."""

from __future__ import annotations

import msgspec
import pytest

from rempart.directory import Site
from rempart.errors import RecordError
from rempart.ingestion.rejected import Rejected, redact, rejected_from_error

from .conftest import CLEAR_NIR

SITE = {
    "site": "S1",
    "kind": "pharmacy",
    "department": "75",
    "commune": "75056",
    "timezone": "Europe/Paris",
    "hours": [{"weekday": 0, "opens": 600, "closes": 700}],
}


def _locate(record: dict[str, object]) -> tuple[str | None, str]:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.convert(record, Site)
    rejected = rejected_from_error(caught.value, source="s", line=1, raw="")
    return rejected.field, rejected.message


@pytest.mark.parametrize(
    ("hours", "field"),
    [
        ([{"weekday": 0, "opens": 600, "closes": 500}], "$.hours[0].closes"),
        ([{"weekday": 0, "opens": 600, "closes": 700, "x": 1}], "$.hours[0].x"),
        ([{"weekday": 0, "opens": 600}], "$.hours[0].closes"),
        ([{"weekday": 9, "opens": 600, "closes": 700}], "$.hours[0].weekday"),
    ],
)
def test_nested_errors_are_located(hours: list[dict[str, int]], field: str) -> None:
    """Cross-field checks, unknown and missing fields inside nested structs get their full path."""
    assert _locate({**SITE, "hours": hours})[0] == field


def test_cross_field_message_loses_its_prefix() -> None:
    """A ``closes: must be after opens`` check keeps the field in ``field``, not in the message."""
    assert _locate({**SITE, "hours": [{"weekday": 0, "opens": 9, "closes": 1}]}) == (
        "$.hours[0].closes",
        "must be after opens",
    )


def test_root_errors_point_at_the_record() -> None:
    """A JSON value that is not an object is located at ``$``; malformed JSON has no field."""
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.json.decode(b"[1]", type=Site)
    assert rejected_from_error(caught.value, source="s", line=1, raw="").field == "$"
    with pytest.raises(msgspec.DecodeError) as malformed:
        msgspec.json.decode(b"{oops", type=Site)
    assert rejected_from_error(malformed.value, source="s", line=1, raw="").field is None


def test_odd_unknown_field_names_are_quoted() -> None:
    """An unknown field that is not an identifier is written as a bracketed JSON string."""
    assert _locate({**SITE, "a b": 1})[0] == '$["a b"]'


@pytest.mark.parametrize(
    "text",
    [CLEAR_NIR, "2 53 07 2B 073 004 70", "1-84-12-75-056-123-45", "1841275056123"],
)
def test_nir_shapes_are_redacted(text: str) -> None:
    """NIRs, compact or with separators, with or without their key, are redacted."""
    assert redact(f"value {text}!") == "value <redacted>!"


def test_ordinary_values_are_not_redacted() -> None:
    """Timestamps, addresses, identifiers and short numbers stay readable."""
    text = "2022-03-01T09:00:00Z 90.12.34.56 ev000000001 ps_a66jp4f5cf2amwvzq22fdsqj 12"
    assert redact(text) == text


def test_raw_stays_out_of_repr_and_error() -> None:
    """Rejected's repr and its RecordError show the location and message but never the raw text."""
    rejected = Rejected(source="e.jsonl", line=4, field="$.subject", message="bad", raw=CLEAR_NIR)
    assert CLEAR_NIR not in repr(rejected)
    error = rejected.to_error()
    assert isinstance(error, RecordError)
    assert str(error) == "e.jsonl:4: $.subject: bad"
    assert CLEAR_NIR not in str(error)
