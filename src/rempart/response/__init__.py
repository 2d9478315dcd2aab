"""Response: containment actions recorded in a ledger, then carried out by pluggable enforcers.

The flow, for each guard decision or analyst command::

    ledger.record(decision, trigger)      every action, with who or what asked
        -> enforcer.apply(record)         each enforcer registered for the kind
        -> ledger.fail(id, error)         when one could not: the action stands

- `ActionLedger` (`MemoryLedger`, `JsonlLedger`): append-only; ``active(now)``
  lists the locks and bans in force, ``lift`` ends them.
- `EnforcerRegistry` of `Enforcer`: `WebhookEnforcer` (the portal revokes
  sessions and locks accounts), `NftablesEnforcer` (an ``nft -f`` file of
  timed address sets), `CrowdSecExporter` (a decision stream for CrowdSec
  bouncers).
- `dispatch` and `lift` tie them together.

>>> from datetime import UTC, datetime
>>> from rempart.guard.decision import Action, ActionKind, Decision, Verdict
>>> ledger, registry = MemoryLedger(), EnforcerRegistry()
>>> revoke = Action(kind=ActionKind.REVOKE_SESSION, target="s0001")
>>> decision = Decision(event_id="ev1", verdict=Verdict.DENY, actions=(revoke,))
>>> now = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)
>>> [r.state.value for r in dispatch(ledger, registry, decision, "guard:canary", now)]
['applied']
"""

from __future__ import annotations

from rempart.response.crowdsec import CrowdSecExporter
from rempart.response.dispatch import dispatch, guard_trigger, lift
from rempart.response.enforcers import EnforcementError, Enforcer, EnforcerRegistry
from rempart.response.ledger import ActionLedger, JsonlLedger, LedgerInUseError, MemoryLedger
from rempart.response.nftables import NftablesEnforcer
from rempart.response.record import ActionRecord, RecordState
from rempart.response.webhook import WebhookEnforcer, WebhookReceiver

__all__ = [
    "ActionLedger",
    "ActionRecord",
    "CrowdSecExporter",
    "EnforcementError",
    "Enforcer",
    "EnforcerRegistry",
    "JsonlLedger",
    "LedgerInUseError",
    "MemoryLedger",
    "NftablesEnforcer",
    "RecordState",
    "WebhookEnforcer",
    "WebhookReceiver",
    "dispatch",
    "guard_trigger",
    "lift",
]
