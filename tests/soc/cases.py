"""Decisions to export: three a SOC sees every day, and Hypothesis strategies for any other."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Final

from hypothesis import strategies as st

from rempart.decision import Action, ActionKind, Decision, Reason, Verdict
from rempart.events import DataCategory, Event, EventKind, Lookup, Outcome
from rempart.testing import make_event, pseudonym_for

T0: Final = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)


def challenged_login() -> tuple[Decision, Event]:
    """A successful login from someone else's device, held behind a step-up."""
    event = make_event(
        event_id="ev-login-1", kind=EventKind.LOGIN_SUCCESS, ip="203.0.113.9", account="A00042"
    )
    reason = Reason(
        detector="takeover",
        code="new_network_and_browser",
        message="login from a network and a browser both new to the account",
        figures={"known_networks": 3.0},
    )
    decision = Decision(
        event_id=event.event_id, verdict=Verdict.CHALLENGE, reasons=(reason,), time=event.time
    )
    return decision, event


def denied_read() -> tuple[Decision, Event]:
    """A record view past the unexplained-read budget: refused, session revoked, account locked."""
    event = make_event(
        event_id="ev-read-41",
        kind=EventKind.RECORD_VIEW,
        ip="2001:db8::7",
        account="A00042",
        session="s-9f2",
        subject=pseudonym_for(41),
        categories=(DataCategory.IDENTITY, DataCategory.NIR),
        time=T0 + timedelta(minutes=20, microseconds=250_000),
    )
    reasons = (
        Reason(
            detector="budget",
            code="unexplained_budget",
            message="41 patients read in 24 h, none explained; budget 40",
            figures={"unexplained_24h": 41.0, "budget_24h": 40.0},
        ),
        Reason(
            detector="enumeration",
            code="far_away_patient",
            message="patient lives 600 km from the site",
            figures={"distance_km": 600.0},
        ),
    )
    actions = (
        Action(kind=ActionKind.REVOKE_SESSION, target="s-9f2"),
        Action(kind=ActionKind.LOCK_ACCOUNT, target="A00042", until=T0 + timedelta(days=1)),
        Action(kind=ActionKind.ALERT, target="A00042"),
    )
    decision = Decision(
        event_id=event.event_id,
        verdict=Verdict.DENY,
        actions=actions,
        reasons=reasons,
        time=event.time,
    )
    return decision, event


def allowed_read() -> tuple[Decision, Event]:
    """An ordinary record view, allowed with nothing to say."""
    event = make_event(event_id="ev-read-2", kind=EventKind.RECORD_VIEW, account="A00007")
    return Decision(event_id=event.event_id, verdict=Verdict.ALLOW, time=event.time), event


SCENARIOS: Final = {
    "challenged_login": challenged_login,
    "denied_read": denied_read,
    "allowed_read": allowed_read,
}

HOSTILE: Final = (
    "]",
    '"',
    "\\",
    '\\"]',
    "a\nb",
    "\r\n<13>1 - forged - - - -",
    "x" * 1024,
    "é" * 600,
    "\u2028",
    "\x00\x7f\x85",
)
"""Values that break naive syslog writers: the three specials, line ends, lengths, controls."""

_TEXT: Final = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40))
_IDENTIFIER: Final = st.one_of(
    st.sampled_from([value for value in HOSTILE if len(value) <= 128]),
    st.text(min_size=1, max_size=128),
)
_TIMES: Final = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
_ADDRESSES: Final = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str)


@st.composite
def events(draw: st.DrawFn, event_id: str) -> Event:
    """Any valid portal event with id ``event_id``."""
    kind = draw(st.sampled_from(EventKind))
    fields = {
        "event_id": event_id,
        "kind": kind,
        "time": draw(_TIMES),
        "ip": draw(_ADDRESSES),
        "account": draw(_IDENTIFIER),
        "session": draw(st.none() | _IDENTIFIER),
        "user_agent": draw(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=1024))),
        "outcome": draw(st.sampled_from(Outcome)),
    }
    if kind in (EventKind.RECORD_VIEW, EventKind.SEARCH):
        fields["lookup"] = draw(st.sampled_from(Lookup))
        fields["subject"] = draw(st.none() | st.integers(0, 2**40).map(pseudonym_for))
        if kind is EventKind.RECORD_VIEW:
            if fields["subject"] is None:
                fields["outcome"] = Outcome.NOT_FOUND
            fields["categories"] = tuple(
                draw(st.lists(st.sampled_from(DataCategory), min_size=1, max_size=3, unique=True))
            )
        else:
            fields["result_count"] = draw(st.none() | st.integers(0, 500))
    return make_event(**fields)


_ACTIONS: Final = st.builds(
    Action,
    kind=st.sampled_from(ActionKind),
    target=_IDENTIFIER,
    until=st.none() | _TIMES,
)
_REASONS: Final = st.builds(
    Reason,
    detector=_TEXT,
    code=_TEXT,
    message=_TEXT,
    figures=st.dictionaries(st.text(max_size=10), st.floats(allow_nan=False), max_size=3),
)


@st.composite
def decided(draw: st.DrawFn) -> tuple[Decision, Event | None]:
    """Any decision, with the event it decided or (sometimes) without, and always a time."""
    event_id = draw(_IDENTIFIER)
    event = draw(st.none() | events(event_id))
    decision = Decision(
        event_id=event_id,
        verdict=draw(st.sampled_from(Verdict)),
        actions=tuple(draw(st.lists(_ACTIONS, max_size=4))),
        reasons=tuple(draw(st.lists(_REASONS, max_size=4))),
        time=draw(_TIMES) if event is None else draw(st.sampled_from([None, event.time])),
    )
    return decision, event
