"""Dispatch and lift: record first, then every enforcer of the kind; failures are kept."""

from __future__ import annotations

import pytest

from rempart.guard.decision import ActionKind
from rempart.response import (
    ActionLedger,
    ActionRecord,
    EnforcementError,
    Enforcer,
    EnforcerRegistry,
    RecordState,
    dispatch,
    guard_trigger,
    lift,
)

from .actions import HOUR, T0, ban, lock


class Recorder:
    """An enforcer that remembers what it was asked, failing when told to."""

    def __init__(self, name: str, kinds: set[ActionKind], *, fail: bool = False) -> None:
        self.name = name
        self.kinds = frozenset(kinds)
        self.fail = fail
        self.applied: list[ActionRecord] = []
        self.lifted: list[ActionRecord] = []

    def apply(self, record: ActionRecord) -> None:
        """Remember ``record``; raise when failing."""
        self.applied.append(record)
        if self.fail:
            raise EnforcementError("portal answered 503")

    def lift(self, record: ActionRecord) -> None:
        """Remember the lift; raise when failing."""
        self.lifted.append(record)
        if self.fail:
            raise EnforcementError("portal answered 503")


def _registry(*enforcers: Enforcer) -> EnforcerRegistry:
    registry = EnforcerRegistry()
    for enforcer in enforcers:
        registry.register(enforcer)
    return registry


def test_each_record_goes_to_the_enforcers_of_its_kind(ledger: ActionLedger) -> None:
    """Sessions go to the session enforcer, locks to both; records end ``applied``."""
    sessions = Recorder("sessions", {ActionKind.REVOKE_SESSION})
    portal = Recorder("portal", {ActionKind.REVOKE_SESSION, ActionKind.LOCK_ACCOUNT})
    records = dispatch(ledger, _registry(sessions, portal), lock("A00042"), "guard:canary", T0)
    assert [r.state for r in records] == [RecordState.APPLIED, RecordState.APPLIED]
    assert [r.kind for r in sessions.applied] == [ActionKind.REVOKE_SESSION]
    assert [r.kind for r in portal.applied] == [ActionKind.REVOKE_SESSION, ActionKind.LOCK_ACCOUNT]
    assert ledger.records() == records


def test_a_failing_enforcer_marks_the_record_failed_and_others_still_run(
    ledger: ActionLedger,
) -> None:
    """One enforcer's error leaves the record ``failed`` with that error; the next still acts."""
    broken = Recorder("broken", {ActionKind.BAN_ADDRESS}, fail=True)
    firewall = Recorder("firewall", {ActionKind.BAN_ADDRESS})
    (record,) = dispatch(
        ledger, _registry(broken, firewall), ban("1.2.3.4", T0 + HOUR), "guard:x", T0
    )
    assert record.state is RecordState.FAILED
    assert record.error == "broken: EnforcementError: portal answered 503"
    assert [r.target for r in firewall.applied] == ["1.2.3.4"]
    assert ledger.get(record.id) == record
    assert ledger.active(T0) == [record]  # the action is not lost


def test_an_unexpected_exception_is_recorded_too(ledger: ActionLedger) -> None:
    """Any exception from an enforcer is caught and recorded, not only EnforcementError."""

    class Crashing(Recorder):
        def apply(self, record: ActionRecord) -> None:
            raise KeyError("surprise")

    (_, locked) = dispatch(
        ledger,
        _registry(Crashing("crashing", {ActionKind.LOCK_ACCOUNT})),
        lock("A00042"),
        "guard:canary",
        T0,
    )
    assert (locked.state, locked.error) == (RecordState.FAILED, "crashing: KeyError: 'surprise'")


def test_lift_reaches_the_enforcers_and_records_who(ledger: ActionLedger) -> None:
    """Lifting a lock calls each lock enforcer's ``lift`` with the lift record."""
    portal = Recorder("portal", {ActionKind.LOCK_ACCOUNT})
    registry = _registry(portal)
    dispatch(ledger, registry, lock("A00042"), "guard:canary", T0)
    record = lift(ledger, registry, "A00042", ActionKind.LOCK_ACCOUNT, "analyst:alice", T0 + HOUR)
    assert record is not None
    assert (record.state, record.trigger, record.lifts) == (
        RecordState.LIFTED,
        "analyst:alice",
        (2,),
    )
    assert portal.lifted == [record]
    assert ledger.active(T0 + HOUR) == []
    assert lift(ledger, registry, "A00042", ActionKind.LOCK_ACCOUNT, "analyst:a", T0) is None


def test_a_failed_lift_is_recorded_and_the_lift_stands(ledger: ActionLedger) -> None:
    """When an enforcer cannot lift, the lift record is ``failed`` but the lock is lifted."""
    registry = _registry(Recorder("portal", {ActionKind.LOCK_ACCOUNT}, fail=True))
    ledger.record(lock("A00042"), "guard:canary")
    record = lift(ledger, registry, "A00042", ActionKind.LOCK_ACCOUNT, "analyst:alice", T0)
    assert record is not None
    assert (record.state, record.lifts) == (RecordState.FAILED, (2,))
    assert record.error == "portal: EnforcementError: portal answered 503"
    assert ledger.active(T0) == []


def test_registry_names_are_unique() -> None:
    """Registering two enforcers under one name is refused."""
    registry = _registry(Recorder("portal", {ActionKind.LOCK_ACCOUNT}))
    with pytest.raises(ValueError, match="portal"):
        registry.register(Recorder("portal", {ActionKind.BAN_ADDRESS}))
    assert [enforcer.name for enforcer in registry] == ["portal"]
    assert registry.for_kind(ActionKind.ALERT) == ()


def test_guard_trigger_names_the_first_detector() -> None:
    """A guard decision's trigger is ``guard:`` and its first reason's detector."""
    assert guard_trigger(lock("A00042")) == "guard:canary"
