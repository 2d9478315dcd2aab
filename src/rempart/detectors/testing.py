"""Helpers for detector tests and doctests: a context for an event without a full guard."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from rempart.detectors.context import EventContext, network_key
from rempart.events import Event

__all__ = ["context_for"]


def context_for(event: Event, *, t: float | None = None, explained: bool = False) -> EventContext:
    """An `EventContext` for ``event`` (at event time + ``t`` seconds), unknown account and site."""
    if t is not None:
        event = msgspec.structs.replace(
            event, time=datetime.fromtimestamp(event.time.timestamp() + t, tz=UTC)
        )
    return EventContext(
        event=event,
        t=event.time.timestamp(),
        account=None,
        site=None,
        network=None,
        prefix=network_key(event.ip),
        is_read=event.is_read,
        explained=explained,
    )
