"""The event model's validation rules."""

from __future__ import annotations

from datetime import datetime

import msgspec
import pytest

from rempart.events import Event, EventKind, Outcome
from rempart.testing import make_event


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
