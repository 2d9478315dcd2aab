"""Helpers for tests of Rempart and of the code that embeds it.

>>> make_event(kind="login_success").account
'A00001'
>>> make_event(subject=pseudonym_for(7)).subject
'ps_aaaaaaaaaaaaaaaaaaaaaaah'
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from rempart.events import DataCategory, Event, EventKind, Lookup

__all__ = ["make_event", "pseudonym_for"]

_DEFAULT_TIME = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)


def pseudonym_for(number: int) -> str:
    """A well-formed pseudonym, distinct for each ``number`` (not keyed: tests only)."""
    raw = number.to_bytes(15, "big")
    return "ps_" + base64.b32encode(raw).decode("ascii").lower()


def make_event(**overrides: Any) -> Event:
    """A valid event with sensible defaults; any field can be overridden.

    A ``record_view`` gets a subject, a typed-NIR look-up and the usual data
    categories unless given.
    """
    kind = EventKind(overrides.get("kind", EventKind.RECORD_VIEW))
    fields: dict[str, Any] = {
        "time": _DEFAULT_TIME,
        "event_id": "ev000000001",
        "kind": kind,
        "ip": "90.12.34.56",
        "account": "A00001",
        "session": "s0001",
        "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
    }
    if kind in (EventKind.RECORD_VIEW, EventKind.SEARCH):
        fields["lookup"] = Lookup.TYPED_NIR
    if kind is EventKind.RECORD_VIEW:
        fields["subject"] = pseudonym_for(1)
        fields["categories"] = (DataCategory.IDENTITY, DataCategory.RIGHTS)
    fields.update(overrides)
    fields["kind"] = kind
    return Event(**fields)
