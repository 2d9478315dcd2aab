"""``context_for``, the detector tests' helper: the event moved by ``t`` seconds, in UTC."""

from __future__ import annotations

from datetime import UTC, timedelta

from rempart.detectors.testing import context_for
from rempart.testing import make_event


def test_context_for_moves_the_event_time_in_utc() -> None:
    """``t`` seconds later, the event keeps an aware UTC time and the context's ``t`` is it."""
    event = make_event()
    context = context_for(event, t=90.0, explained=True)
    assert context.event.time == event.time + timedelta(seconds=90)
    assert context.event.time.tzinfo is UTC
    assert context.t == event.time.timestamp() + 90
    assert (context.explained, context.is_read, context.prefix) == (True, True, "90.12.34.0/24")
    assert (context.account, context.site, context.network) == (None, None, None)
    unmoved = context_for(event)
    assert unmoved.event is event
    assert unmoved.explained is False
