"""Decisions as Elastic Common Schema 8.x documents, one JSON object per decision.

`ecs_document` maps a decision, and the portal event it decided when known,
to an ECS 8.17 document (`ECS_VERSION`):

- ``@timestamp``: the event's time; ``event.id``: its ``event_id``;
  ``event.action``: the portal event kind (``login_success``, ``record_view``).
- ``event.kind``: ``alert`` for an alert (`rempart.soc.alerts.is_alert`: not
  an allow, or an ``alert`` action), else ``event``.
- ``event.category`` and ``event.type``, from ECS's allowed values and the
  pairs ECS expects: logins and MFA steps are ``authentication`` / ``start``,
  a logout ``authentication`` / ``end``; password resets, e-mail and MFA
  changes ``iam`` / ``user`` + ``change`` (a reset *request* changes nothing
  yet: ``user`` + ``info``); record views and searches ``web`` / ``access``.
  ``web`` rather than ``database``: the guard sees the portal's HTTP requests
  (address, browser, session), not queries on a data store. An alert also
  gets ``intrusion_detection`` (Rempart is an inline prevention system) with
  ``denied`` for a challenge or a refusal (the action does not go through as
  asked) and ``allowed`` for an allowed alert.
- ``event.outcome``: `rempart.soc.alerts.outcome`; ``event.reason``: the
  reasons' sentences; ``event.severity``: the `rempart.soc.alerts.Gravity`
  (1 routine allow to 4 refusal). There is no ``event.risk_score``: a
  decision carries no score, only a verdict and the figures of its reasons.
- ``source.ip``, ``user.name`` (the account), ``user_agent.original``.
- ``rule.name``: the detectors, ``rule.id``: the reasons' codes (arrays, as
  any ECS field may be; one decision can have several).
- ``labels.verdict``, and the custom ``rempart`` object: ``verdict``,
  ``actions`` (kind, target, until), ``reasons`` (with their figures),
  ``subject`` (the patient's keyed pseudonym, never an identity),
  ``session``, ``lookup``, ``categories`` (data returned), ``portal_outcome``
  and ``result_count``.

>>> from datetime import UTC, datetime
>>> from rempart.decision import Decision, Verdict
>>> from rempart.testing import make_event
>>> event = make_event(event_id="ev1")
>>> document = ecs_document(Decision(event_id="ev1", verdict=Verdict.DENY), event)
>>> document["event"]["kind"], document["event"]["category"], document["source"]["ip"]
('alert', ['web', 'intrusion_detection'], '90.12.34.56')
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import msgspec

from rempart import __version__
from rempart.decision import Decision, Verdict
from rempart.events import Event, EventKind
from rempart.soc.alerts import (
    decision_time,
    detectors,
    gravity,
    is_alert,
    outcome,
    reason_codes,
    reasons_text,
    summary,
    utc_text,
)

__all__ = ["ECS_VERSION", "EcsFormat", "ecs_document"]

ECS_VERSION: Final = "8.17.0"
"""The ECS release the documents follow (the last of the 8.x line)."""

_AUTHENTICATION_START: Final = (("authentication",), ("start",))
_USER_CHANGE: Final = (("iam",), ("user", "change"))
_WEB_ACCESS: Final = (("web",), ("access",))
_CATEGORIES: Final[dict[EventKind, tuple[tuple[str, ...], tuple[str, ...]]]] = {
    EventKind.LOGIN_SUCCESS: _AUTHENTICATION_START,
    EventKind.LOGIN_FAILURE: _AUTHENTICATION_START,
    EventKind.MFA_SUCCESS: _AUTHENTICATION_START,
    EventKind.MFA_FAILURE: _AUTHENTICATION_START,
    EventKind.LOGOUT: (("authentication",), ("end",)),
    EventKind.PASSWORD_RESET_REQUEST: (("iam",), ("user", "info")),
    EventKind.PASSWORD_RESET: _USER_CHANGE,
    EventKind.EMAIL_CHANGE: _USER_CHANGE,
    EventKind.MFA_CHANGE: _USER_CHANGE,
    EventKind.RECORD_VIEW: _WEB_ACCESS,
    EventKind.SEARCH: _WEB_ACCESS,
}
"""ECS ``event.category`` and ``event.type`` of each portal event kind."""


def _classification(decision: Decision, event: Event | None) -> tuple[list[str], list[str]]:
    categories, types = _CATEGORIES[event.kind] if event is not None else ((), ())
    if not is_alert(decision):
        return list(categories), list(types)
    verdict = "allowed" if decision.verdict is Verdict.ALLOW else "denied"
    return [*categories, "intrusion_detection"], [*types, verdict]


def _rempart_fields(decision: Decision, event: Event | None) -> dict[str, Any]:
    fields: dict[str, Any] = {"verdict": decision.verdict.value}
    if decision.actions:
        fields["actions"] = [msgspec.to_builtins(action) for action in decision.actions]
    if decision.reasons:
        fields["reasons"] = [msgspec.to_builtins(reason) for reason in decision.reasons]
    if event is None:
        return fields
    optional = {
        "subject": event.subject,
        "session": event.session,
        "lookup": event.lookup.value if event.lookup is not None else None,
        "categories": [category.value for category in event.categories] or None,
        "portal_outcome": event.outcome.value,
        "result_count": event.result_count,
    }
    fields.update((key, value) for key, value in optional.items() if value is not None)
    return fields


def ecs_document(decision: Decision, event: Event | None = None) -> dict[str, Any]:
    """``decision`` (and the ``event`` it decided) as a JSON-ready ECS document.

    Without ``event`` the document has what the decision alone says (no
    address, account or browser, no category unless it is an alert).
    ValueError when neither has a time.

    >>> from rempart.decision import Decision, Verdict
    >>> from rempart.testing import make_event
    >>> document = ecs_document(Decision(event_id="ev1", verdict=Verdict.ALLOW),
    ...                         make_event(event_id="ev1", kind="login_success"))
    >>> document["@timestamp"], document["event"]["kind"], document["event"]["type"]
    ('2022-03-01T09:00:00.000000Z', 'event', ['start'])
    """
    categories, types = _classification(decision, event)
    details: dict[str, Any] = {"kind": "alert" if is_alert(decision) else "event"}
    if categories:
        details |= {"category": categories, "type": types}
    if event is not None:
        details["action"] = event.kind.value
    details |= {
        "outcome": outcome(decision, event),
        "id": decision.event_id,
        "severity": int(gravity(decision)),
        "module": "rempart",
        "dataset": "rempart.decisions",
    }
    if reasons := reasons_text(decision):
        details["reason"] = reasons
    document: dict[str, Any] = {
        "@timestamp": utc_text(decision_time(decision, event)),
        "ecs": {"version": ECS_VERSION},
        "message": summary(decision, event),
        "event": details,
        "observer": {
            "vendor": "Rempart",
            "product": "Rempart",
            "type": "ips",
            "version": __version__,
        },
    }
    if event is not None:
        document["source"] = {"ip": event.ip}
        if event.account is not None:
            document["user"] = {"name": event.account}
        if event.user_agent:
            document["user_agent"] = {"original": event.user_agent}
    if decision.reasons:
        document["rule"] = {"name": detectors(decision), "id": reason_codes(decision)}
    document["labels"] = {"verdict": decision.verdict.value}
    document["rempart"] = _rempart_fields(decision, event)
    return document


class EcsFormat:
    """The ``ecs`` export format: one ECS document per decision, as a line of JSON."""

    __slots__ = ("_encoder",)

    name: Final = "ecs"

    def __init__(self) -> None:
        self._encoder = msgspec.json.Encoder()

    def render(self, decision: Decision, event: Event | None) -> Iterator[bytes]:
        """The JSON of `ecs_document` (no line end).

        >>> from rempart.decision import Decision, Verdict
        >>> from rempart.testing import make_event
        >>> line, = EcsFormat().render(Decision(event_id="ev1", verdict=Verdict.ALLOW),
        ...                            make_event(event_id="ev1"))
        >>> line[:40]
        b'{"@timestamp":"2022-03-01T09:00:00.00000'
        """
        yield self._encoder.encode(ecs_document(decision, event))
