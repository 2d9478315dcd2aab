"""What every SOC format says of a decision: whether it is an alert, how grave, when, in a sentence.

An **alert** is what the evaluation counts as a detection
(`rempart.replay.evaluation`): a decision that did not simply let the event
through (a challenge or a refusal), or one that carries an ``alert`` action.
Detectors raise that action on allowed events too (the population detector's
shared-infrastructure alert, the enumeration detector's far-away patient), so
an allow can be an alert. Everything else is an ordinary event.

`Gravity` ranks a decision on OCSF's severity scale, from which every format
derives its own: routine allow 1, allowed alert 2, challenge 3, refusal 4.

The **outcome** is that of the portal action with the guard in front of it:
a refused action failed, a challenged one waits on the step-up (unknown), an
allowed one had the outcome the portal logged.

>>> from datetime import UTC, datetime
>>> from rempart.decision import Action, ActionKind, Decision, Verdict
>>> surge = Action(kind=ActionKind.ALERT, target="portal")
>>> decision = Decision(event_id="ev1", verdict=Verdict.ALLOW, actions=(surge,),
...                     time=datetime(2022, 3, 1, 9, 0, tzinfo=UTC))
>>> is_alert(decision), gravity(decision).name, outcome(decision, None)
(True, 'LOW', 'unknown')
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import IntEnum
from typing import Final, Literal

from rempart.decision import ActionKind, Decision, Verdict
from rempart.events import Event, Outcome

__all__ = [
    "Gravity",
    "decision_time",
    "detectors",
    "epoch_ms",
    "gravity",
    "is_alert",
    "outcome",
    "reason_codes",
    "reasons_text",
    "summary",
    "utc_text",
]

EventOutcome = Literal["success", "failure", "unknown"]


class Gravity(IntEnum):
    """How grave a decision is, on OCSF's ``severity_id`` scale (its first four steps)."""

    INFORMATIONAL = 1
    """Allowed, nothing raised."""
    LOW = 2
    """Allowed, but a detector raised an alert."""
    MEDIUM = 3
    """Challenged: held until the owner passes a step-up."""
    HIGH = 4
    """Refused."""


_GRAVITY_OF: Final = {Verdict.CHALLENGE: Gravity.MEDIUM, Verdict.DENY: Gravity.HIGH}


def is_alert(decision: Decision) -> bool:
    """Whether ``decision`` is an alert: not an allow, or carrying an ``alert`` action.

    >>> from rempart.decision import Decision, Verdict
    >>> is_alert(Decision(event_id="ev1", verdict=Verdict.CHALLENGE))
    True
    """
    return decision.verdict is not Verdict.ALLOW or any(
        action.kind is ActionKind.ALERT for action in decision.actions
    )


def gravity(decision: Decision) -> Gravity:
    """The `Gravity` of ``decision``.

    >>> from rempart.decision import Decision, Verdict
    >>> gravity(Decision(event_id="ev1", verdict=Verdict.DENY)).name
    'HIGH'
    """
    if decision.verdict is Verdict.ALLOW:
        return Gravity.LOW if is_alert(decision) else Gravity.INFORMATIONAL
    return _GRAVITY_OF[decision.verdict]


def outcome(decision: Decision, event: Event | None) -> EventOutcome:
    """The outcome of the decided action behind the guard: ``success``, ``failure`` or ``unknown``.

    >>> from rempart.decision import Decision, Verdict
    >>> outcome(Decision(event_id="ev1", verdict=Verdict.DENY), None)
    'failure'
    """
    if decision.verdict is Verdict.DENY:
        return "failure"
    if decision.verdict is Verdict.CHALLENGE or event is None:
        return "unknown"
    return "success" if event.outcome is Outcome.SUCCESS else "failure"


def decision_time(decision: Decision, event: Event | None) -> datetime:
    """When the decided event happened, in UTC: the decision's time, else the event's.

    A time without a zone is taken as UTC. ValueError when neither gives one
    (a replay always dates its decisions).

    >>> from rempart.decision import Decision, Verdict
    >>> decision_time(Decision(event_id="ev1", verdict=Verdict.DENY,
    ...                        time=datetime(2022, 3, 1, 9, 0)), None).isoformat()
    '2022-03-01T09:00:00+00:00'
    """
    time = decision.time if decision.time is not None else (event.time if event else None)
    if time is None:
        raise ValueError(f"decision {decision.event_id!r}: no time, and no event to date it")
    return time.replace(tzinfo=UTC) if time.tzinfo is None else time.astimezone(UTC)


def utc_text(time: datetime) -> str:
    """``time`` (aware) as RFC 3339 in UTC with microseconds, which ECS and RFC 5424 both read.

    >>> utc_text(datetime(2022, 3, 1, 9, 0, 0, 120_000, tzinfo=UTC))
    '2022-03-01T09:00:00.120000Z'
    """
    time = time.astimezone(UTC)
    # Not strftime: its %Y does not pad years before 1000 on every platform.
    return (
        f"{time.year:04d}-{time.month:02d}-{time.day:02d}T{time.hour:02d}:{time.minute:02d}:"
        f"{time.second:02d}.{time.microsecond:06d}Z"
    )


def epoch_ms(time: datetime) -> int:
    """``time`` (aware) as milliseconds since the Unix epoch, OCSF's ``timestamp_t``.

    >>> epoch_ms(datetime(2022, 3, 1, 9, 0, tzinfo=UTC))
    1646125200000
    """
    delta = time - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000 + delta.microseconds // 1_000


def detectors(decision: Decision) -> list[str]:
    """The detectors behind ``decision``'s reasons, each once, in order.

    >>> from rempart.decision import Decision, Reason, Verdict
    >>> reason = Reason(detector="budget", code="unexplained_budget", message="41 reads")
    >>> detectors(Decision(event_id="ev1", verdict=Verdict.DENY, reasons=(reason, reason)))
    ['budget']
    """
    return list(dict.fromkeys(reason.detector for reason in decision.reasons))


def reason_codes(decision: Decision) -> list[str]:
    """The stable codes of ``decision``'s reasons, each once, in order.

    >>> from rempart.decision import Decision, Reason, Verdict
    >>> reason = Reason(detector="budget", code="unexplained_budget", message="41 reads")
    >>> reason_codes(Decision(event_id="ev1", verdict=Verdict.DENY, reasons=(reason,)))
    ['unexplained_budget']
    """
    return list(dict.fromkeys(reason.code for reason in decision.reasons))


def reasons_text(decision: Decision) -> str:
    """The analyst's sentences of ``decision``'s reasons, joined by ``; `` (empty when none).

    >>> from rempart.decision import Decision, Reason, Verdict
    >>> reason = Reason(detector="budget", code="unexplained_budget", message="41 reads")
    >>> reasons_text(Decision(event_id="ev1", verdict=Verdict.DENY, reasons=(reason,)))
    '41 reads'
    """
    return "; ".join(reason.message for reason in decision.reasons)


def summary(decision: Decision, event: Event | None) -> str:
    """One sentence for a log line: verdict, action, account, address, then the reasons.

    >>> from rempart.decision import Decision, Verdict
    >>> from rempart.testing import make_event
    >>> summary(Decision(event_id="ev1", verdict=Verdict.ALLOW), make_event(kind="logout"))
    'allow logout by A00001 from 90.12.34.56'
    >>> summary(Decision(event_id="ev1", verdict=Verdict.DENY), None)
    'deny event ev1'
    """
    if event is None:
        sentence = f"{decision.verdict.value} event {decision.event_id}"
    else:
        who = f" by {event.account}" if event.account is not None else ""
        sentence = f"{decision.verdict.value} {event.kind.value}{who} from {event.ip}"
    reasons = reasons_text(decision)
    return f"{sentence}: {reasons}" if reasons else sentence
