"""Decisions as OCSF 1.4 events: the activity the guard decided, and a finding for each alert.

`ocsf_events` maps a decision, and the portal event it decided when known,
to OCSF 1.4.0 events (`OCSF_VERSION`), in order:

1. **The activity**, always, in the class of the portal event kind:

   - logins, MFA steps and logouts: *Authentication* (3002), activity
     Logon (1) or Logoff (2), ``is_mfa`` for the MFA steps, the account as
     ``user`` and ``actor.user``, the session as ``session.uid``;
   - password resets, e-mail and MFA changes: *Account Change* (3001), a
     reset as Password Reset (4), the rest Other (99, named): OCSF has no
     reset request or e-mail change, and an MFA change does not say whether
     a factor was enabled or disabled;
   - record views and searches: *API Activity* (6003), Read (2), the portal
     event kind as ``api.operation``, the patient's pseudonym as a
     ``resources`` uid. Not *Web Resources Activity* (6001): it has no
     ``actor``, and which account reads is what the SOC needs most; 6003
     requires both ``actor`` and ``src_endpoint``;
   - an unknown event (a decision exported without its events): the *Base
     Event* (0), activity Unknown (0).

   Each carries the Security Control profile, as OCSF asks of a control
   that observed or intervened: ``action_id`` Allowed (1) with
   ``disposition_id`` Allowed (1); Denied (2) with Blocked (2) for a
   refusal; for a challenge, Modified (4) with Challenge (23): the action is
   neither let through as asked nor refused, it is held behind a step-up
   (OCSF's own example of a Modified disposition is the Captcha).
   ``status_id`` is `rempart.soc.alerts.outcome` (Success 1, Failure 2,
   Unknown 0 while a challenge is pending); ``status_detail`` the portal's
   own outcome.

2. **A Detection Finding** (2004, Create), only for an alert
   (`rempart.soc.alerts.is_alert`), with ``is_alert`` true (only the finding
   has it, so a SIEM counts one alert per decision) and ``finding_info``:
   ``uid`` the event id, ``title`` the first reason, ``desc`` all of them,
   ``types`` the reasons' codes, ``analytic`` the first detector (type
   Rule: detectors compare counts with thresholds) and ``related_analytics``
   the others, ``related_events`` the activity above. The account, address
   and browser go in ``evidences``, where OCSF puts a finding's observables.

``severity_id`` is the `rempart.soc.alerts.Gravity` (Informational 1, Low 2
for an allowed alert, Medium 3 for a challenge, High 4 for a refusal);
``time`` is in milliseconds since the epoch; ``metadata.product`` names
Rempart. What OCSF has no attribute for (verdict, actions, data categories,
look-up) goes in ``unmapped.rempart``, with the pseudonym, never an identity.

>>> from rempart.decision import Decision, Verdict
>>> from rempart.testing import make_event
>>> event = make_event(event_id="ev1", kind="login_success")
>>> [e["class_uid"] for e in ocsf_events(Decision(event_id="ev1", verdict=Verdict.ALLOW), event)]
[3002]
>>> [e["type_uid"] for e in ocsf_events(Decision(event_id="ev1", verdict=Verdict.DENY), event)]
[300201, 200401]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final, NamedTuple

import msgspec

from rempart import __version__
from rempart.decision import Decision, Verdict
from rempart.events import Event, EventKind
from rempart.soc.alerts import (
    decision_time,
    detectors,
    epoch_ms,
    gravity,
    is_alert,
    outcome,
    reason_codes,
    reasons_text,
    summary,
)

__all__ = ["OCSF_VERSION", "OcsfFormat", "ocsf_events"]

OCSF_VERSION: Final = "1.4.0"
"""The OCSF release the events follow: the first with ``is_alert`` and the Challenge disposition."""

_PRODUCT: Final = {"name": "Rempart", "vendor_name": "Rempart", "version": __version__}


class _Class(NamedTuple):
    uid: int
    name: str
    category_uid: int
    category_name: str


_BASE_EVENT: Final = _Class(0, "Base Event", 0, "Uncategorized")
_ACCOUNT_CHANGE: Final = _Class(3001, "Account Change", 3, "Identity & Access Management")
_AUTHENTICATION: Final = _Class(3002, "Authentication", 3, "Identity & Access Management")
_API_ACTIVITY: Final = _Class(6003, "API Activity", 6, "Application Activity")
_DETECTION_FINDING: Final = _Class(2004, "Detection Finding", 2, "Findings")

_ACTIVITIES: Final[dict[EventKind, tuple[_Class, int, str]]] = {
    EventKind.LOGIN_SUCCESS: (_AUTHENTICATION, 1, "Logon"),
    EventKind.LOGIN_FAILURE: (_AUTHENTICATION, 1, "Logon"),
    EventKind.MFA_SUCCESS: (_AUTHENTICATION, 1, "Logon"),
    EventKind.MFA_FAILURE: (_AUTHENTICATION, 1, "Logon"),
    EventKind.LOGOUT: (_AUTHENTICATION, 2, "Logoff"),
    EventKind.PASSWORD_RESET_REQUEST: (_ACCOUNT_CHANGE, 99, "Password Reset Request"),
    EventKind.PASSWORD_RESET: (_ACCOUNT_CHANGE, 4, "Password Reset"),
    EventKind.EMAIL_CHANGE: (_ACCOUNT_CHANGE, 99, "Email Change"),
    EventKind.MFA_CHANGE: (_ACCOUNT_CHANGE, 99, "MFA Change"),
    EventKind.RECORD_VIEW: (_API_ACTIVITY, 2, "Read"),
    EventKind.SEARCH: (_API_ACTIVITY, 2, "Read"),
}
"""Class, ``activity_id`` and ``activity_name`` of each portal event kind."""

_MFA_STEPS: Final = frozenset({EventKind.MFA_SUCCESS, EventKind.MFA_FAILURE})
_SEVERITIES: Final = {1: "Informational", 2: "Low", 3: "Medium", 4: "High"}
_STATUSES: Final = {"success": (1, "Success"), "failure": (2, "Failure"), "unknown": (0, "Unknown")}
_CONTROL: Final = {
    Verdict.ALLOW: (1, "Allowed", 1, "Allowed"),
    Verdict.CHALLENGE: (4, "Modified", 23, "Challenge"),
    Verdict.DENY: (2, "Denied", 2, "Blocked"),
}
"""``action_id``, ``action``, ``disposition_id``, ``disposition`` of each verdict."""


def _classification(event_class: _Class, activity_id: int, activity_name: str) -> dict[str, Any]:
    return {
        "class_uid": event_class.uid,
        "class_name": event_class.name,
        "category_uid": event_class.category_uid,
        "category_name": event_class.category_name,
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": event_class.uid * 100 + activity_id,
        "type_name": f"{event_class.name}: {activity_name}",
    }


def _common(decision: Decision, event: Event | None) -> dict[str, Any]:
    """What both events share: time, severity, message, the security control's answer."""
    severity = int(gravity(decision))
    action_id, action, disposition_id, disposition = _CONTROL[decision.verdict]
    return {
        "time": epoch_ms(decision_time(decision, event)),
        "severity_id": severity,
        "severity": _SEVERITIES[severity],
        "message": summary(decision, event),
        "action_id": action_id,
        "action": action,
        "disposition_id": disposition_id,
        "disposition": disposition,
    }


def _metadata(uid: str | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "product": dict(_PRODUCT),
        "version": OCSF_VERSION,
        "profiles": ["security_control"],
        "log_name": "decisions",
    }
    if uid is not None:
        metadata["uid"] = uid
    return metadata


def _unmapped(decision: Decision, event: Event | None) -> dict[str, Any]:
    fields: dict[str, Any] = {"verdict": decision.verdict.value}
    if decision.actions:
        fields["actions"] = [msgspec.to_builtins(action) for action in decision.actions]
    if event is not None:
        if event.subject is not None:
            fields["subject"] = event.subject
        if event.lookup is not None:
            fields["lookup"] = event.lookup.value
        if event.categories:
            fields["categories"] = [category.value for category in event.categories]
        if event.result_count is not None:
            fields["result_count"] = event.result_count
    return {"rempart": fields}


def _observables(event: Event) -> dict[str, Any]:
    """Who, from where, with what browser: the actor, source endpoint and HTTP request."""
    found: dict[str, Any] = {}
    if event.account is not None:
        found["actor"] = {"user": {"name": event.account}}
    found["src_endpoint"] = {"ip": event.ip}
    if event.user_agent:
        found["http_request"] = {"user_agent": event.user_agent}
    return found


def _activity(decision: Decision, event: Event | None) -> dict[str, Any]:
    if event is None:
        document = _classification(_BASE_EVENT, 0, "Unknown")
    else:
        document = _classification(*_ACTIVITIES[event.kind])
    document |= _common(decision, event)
    status = outcome(decision, event)
    document["status_id"], document["status"] = _STATUSES[status]
    document["metadata"] = _metadata(decision.event_id)
    if event is not None:
        document["status_detail"] = event.outcome.value
        document |= _observables(event)
        event_class = _ACTIVITIES[event.kind][0]
        if event_class is not _API_ACTIVITY and event.account is not None:
            document["user"] = {"name": event.account}
        if event_class is _AUTHENTICATION:
            document["is_mfa"] = event.kind in _MFA_STEPS
            if event.session is not None:
                document["session"] = {"uid": event.session}
        if event_class is _API_ACTIVITY:
            document["api"] = {"operation": event.kind.value, "service": {"name": "portal"}}
            if event.subject is not None:
                document["resources"] = [{"type": "patient record", "uid": event.subject}]
    document["unmapped"] = _unmapped(decision, event)
    return document


def _analytic(detector: str) -> dict[str, Any]:
    return {"name": detector, "type_id": 1, "type": "Rule"}


def _finding(decision: Decision, event: Event | None, activity: dict[str, Any]) -> dict[str, Any]:
    document = _classification(_DETECTION_FINDING, 1, "Create")
    document |= _common(decision, event)
    document |= {"status_id": 1, "status": "New", "is_alert": True}
    document["metadata"] = _metadata(None)
    what = event.kind.value if event is not None else "event"
    info: dict[str, Any] = {
        "uid": decision.event_id,
        "title": (
            decision.reasons[0].message if decision.reasons else f"{decision.verdict.value} {what}"
        ),
        "related_events": [
            {
                "uid": decision.event_id,
                "type_uid": activity["type_uid"],
                "severity_id": activity["severity_id"],
            }
        ],
    }
    if reasons := reasons_text(decision):
        info["desc"] = reasons
    if codes := reason_codes(decision):
        info["types"] = codes
    names = detectors(decision)
    if names:
        info["analytic"] = _analytic(names[0])
    if len(names) > 1:
        info["related_analytics"] = [_analytic(name) for name in names[1:]]
    document["finding_info"] = info
    if event is not None:
        document["evidences"] = [_observables(event)]
    document["unmapped"] = _unmapped(decision, event)
    return document


def ocsf_events(decision: Decision, event: Event | None = None) -> list[dict[str, Any]]:
    """``decision`` (and the ``event`` it decided) as JSON-ready OCSF events.

    The activity first, then a Detection Finding when the decision is an
    alert. Without ``event`` the activity is a Base Event. ValueError when
    neither has a time.

    >>> from rempart.decision import Decision, Verdict
    >>> from rempart.testing import make_event
    >>> activity, = ocsf_events(Decision(event_id="ev1", verdict=Verdict.ALLOW),
    ...                         make_event(event_id="ev1"))
    >>> activity["class_name"], activity["time"], activity["actor"]
    ('API Activity', 1646125200000, {'user': {'name': 'A00001'}})
    """
    activity = _activity(decision, event)
    if not is_alert(decision):
        return [activity]
    return [activity, _finding(decision, event, activity)]


class OcsfFormat:
    """The ``ocsf`` export format: each of `ocsf_events` as a line of JSON."""

    __slots__ = ("_encoder",)

    name: Final = "ocsf"

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()

    def render(self, decision: Decision, event: Event | None) -> Iterator[bytes]:
        """The JSON of each of `ocsf_events` (no line end).

        >>> from datetime import datetime
        >>> from rempart.decision import Decision, Verdict
        >>> lines = list(OcsfFormat().render(Decision(event_id="ev1", verdict=Verdict.DENY,
        ...                                           time=datetime(2022, 3, 1)), None))
        >>> len(lines), lines[1][:30]
        (2, b'{"class_uid":2004,"class_name"')
        """
        for document in ocsf_events(decision, event):
            yield self._encoder.encode(document)
