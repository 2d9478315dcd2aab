"""The event model's validation rules."""

from __future__ import annotations

from datetime import datetime

import msgspec
import pytest

from rempart.events import RESULTS_MAX, Event, EventKind, Outcome
from rempart.testing import make_event, pseudonym_for


def test_round_trip() -> None:
    """An event survives to_dict/from_dict unchanged."""
    event = make_event()
    assert Event.from_dict(event.to_dict()) == event


def test_naive_time_rejected() -> None:
    """A timestamp without a time zone is rejected at `$.time`."""
    record = make_event().to_dict()
    record["time"] = "2022-03-01T09:00:00"
    with pytest.raises(msgspec.ValidationError, match=r"\$\.time"):
        Event.from_dict(record)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ip": "999.1.1.1"}, "ip"),
        ({"subject": "253072B07300470"}, "subject"),
        ({"kind": "record_view", "subject": None}, "subject"),
        ({"kind": "login_success", "account": None}, "account"),
        ({"kind": "teleport"}, "kind"),
    ],
)
def test_bad_fields_rejected(change: dict[str, object], message: str) -> None:
    """Bad addresses, clear NIRs, missing subjects or accounts and unknown kinds are refused."""
    record = make_event().to_dict() | change
    with pytest.raises(msgspec.ValidationError, match=message):
        Event.from_dict(record)


def test_not_found_read_needs_no_subject() -> None:
    """A look-up that found nobody is valid without a subject and is not a read."""
    event = make_event(subject=None, categories=(), outcome=Outcome.NOT_FOUND)
    assert not event.is_read


def test_frozen() -> None:
    """Events are immutable."""
    event = make_event(kind=EventKind.LOGOUT)
    with pytest.raises(AttributeError):
        event.account = "other"  # type: ignore[misc]
    assert isinstance(event.time, datetime)


def _listing(count: int, **overrides: object) -> Event:
    """A search listing ``count`` distinct people."""
    people = tuple(pseudonym_for(i) for i in range(count))
    return make_event(kind=EventKind.SEARCH, lookup="search", results=people, **overrides)


def test_search_results_round_trip_and_old_records_stay_valid() -> None:
    """A search's listed pseudonyms survive to_dict/from_dict; a record without them is valid."""
    event = _listing(3, result_count=40)
    record = event.to_dict()
    assert list(record["results"]) == [pseudonym_for(i) for i in range(3)]
    assert Event.from_dict(record) == event
    old = make_event(kind=EventKind.SEARCH, result_count=4).to_dict()
    assert "results" not in old
    assert Event.from_dict(old).results == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"results": [pseudonym_for(i) for i in range(RESULTS_MAX + 1)]}, r"\$\.results"),
        ({"results": ["253072B07300470"]}, r"\$\.results\[0\]"),
        ({"result_count": 2}, r"^results: 3 people listed but result_count is 2"),
        ({"outcome": "failure"}, "^results: only a successful search"),
        (
            {"kind": "record_view", "subject": pseudonym_for(9), "categories": ["identity"]},
            "^results: only a successful search",
        ),
    ],
)
def test_bad_search_results_rejected(change: dict[str, object], message: str) -> None:
    """More than a page of people, a clear NIR, more people than result_count, or people
    listed by anything but a successful search are refused, naming `results`."""
    record = _listing(3).to_dict() | change
    with pytest.raises(msgspec.ValidationError, match=message):
        Event.from_dict(record)
