"""Record first, then enforce: an enforcer's failure never loses the action.

`dispatch` writes a decision's actions to the ledger, then hands each record
to every enforcer that handles its kind; `lift` does the same for a lift.
A failing enforcer does not stop the others: the record is kept with state
``failed`` and the error of each enforcer that failed.

>>> from datetime import UTC, datetime
>>> from rempart.guard.decision import Action, ActionKind, Decision, Verdict
>>> from rempart.response.enforcers import EnforcerRegistry
>>> from rempart.response.ledger import MemoryLedger
>>> class Broken:
...     name = "broken"
...     kinds = frozenset({ActionKind.LOCK_ACCOUNT})
...     def apply(self, record): raise OSError("portal unreachable")
...     def lift(self, record): pass
>>> registry = EnforcerRegistry()
>>> registry.register(Broken())
>>> lock = Action(kind=ActionKind.LOCK_ACCOUNT, target="A00042")
>>> decision = Decision(event_id="ev9", verdict=Verdict.DENY, actions=(lock,))
>>> now = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)
>>> records = dispatch(MemoryLedger(), registry, decision, "guard:canary", now)
>>> [(record.state.value, record.error) for record in records]
[('failed', 'broken: OSError: portal unreachable')]
"""

from __future__ import annotations

from datetime import datetime

from rempart.guard.decision import ActionKind, Decision
from rempart.response.enforcers import EnforcerRegistry
from rempart.response.ledger import ActionLedger
from rempart.response.record import ActionRecord

__all__ = ["dispatch", "enforce", "guard_trigger", "lift"]


def guard_trigger(decision: Decision) -> str:
    """The trigger of a guard decision: ``guard:<detector>`` of its first reason.

    >>> from rempart.guard.decision import Reason, Verdict
    >>> reason = Reason(detector="budget", code="unexplained_budget", message="…")
    >>> guard_trigger(Decision(event_id="e", verdict=Verdict.DENY, reasons=(reason,)))
    'guard:budget'
    """
    detector = decision.reasons[0].detector if decision.reasons else "decision"
    return f"guard:{detector}"


def enforce(
    ledger: ActionLedger, registry: EnforcerRegistry, record: ActionRecord, *, lifting: bool
) -> ActionRecord:
    """Run every enforcer of ``record``'s kind (``lifting``: lift it); a failure is recorded.

    Every enforcer runs whatever the others do; on any failure the record is marked failed
    in ``ledger`` and returned so. `rempart.follow` calls it again for an action a crash may
    have left half carried out.
    """
    errors: list[str] = []
    for enforcer in registry.for_kind(record.kind):
        try:
            if lifting:
                enforcer.lift(record)
            else:
                enforcer.apply(record)
        # Any error of any enforcer, by design: the record must survive it.
        except Exception as error:
            errors.append(f"{enforcer.name}: {type(error).__name__}: {error}")
    if not errors:
        return record
    return ledger.fail(record.id, "; ".join(errors))


def dispatch(
    ledger: ActionLedger,
    registry: EnforcerRegistry,
    decision: Decision,
    trigger: str,
    now: datetime,
) -> list[ActionRecord]:
    """Record ``decision``'s actions (by ``trigger``, at ``now``), then apply each one.

    Returns the final version of each record: ``applied``, or ``failed``
    with every failing enforcer's error.
    """
    records = ledger.record(decision, trigger, now)
    return [enforce(ledger, registry, record, lifting=False) for record in records]


def lift(
    ledger: ActionLedger,
    registry: EnforcerRegistry,
    target: str,
    kind: ActionKind,
    by: str,
    now: datetime,
) -> ActionRecord | None:
    """Lift the ``kind`` (lock or ban) in force on ``target`` on ``by``'s word, then enforce it.

    Returns the lift record (``failed`` if an enforcer could not lift), or
    None when nothing was in force.
    """
    record = ledger.lift(target, kind, by, now)
    if record is None:
        return None
    return enforce(ledger, registry, record, lifting=True)
