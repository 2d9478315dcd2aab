"""Detectors: one module each, small objects scoring events against state in a store.

`default_detectors` builds the built-in set in the order the guard consults
them: context detectors first (they tighten the budget), the unexplained-read
budget last. The guard scores detectors in their order, each seeing the
tightening found by those before it, so a detector that reads the tightening
comes after those that find it.

Detectors depend on the core (events, `rempart.decision`, `rempart.policy`,
`rempart.stores`) and never on the guard that runs them: the guard builds
their `EventContext` and imports them, not the other way round.
"""

from __future__ import annotations

from rempart.detectors.automation import Automation
from rempart.detectors.base import Detector, Finding, RefusalHook, StepUpHook
from rempart.detectors.budget import UnexplainedBudget
from rempart.detectors.challenges import UnansweredChallenges
from rempart.detectors.context import EventContext
from rempart.detectors.enumeration import Enumeration
from rempart.detectors.login_attacks import LoginAttacks
from rempart.detectors.population import SharedInfrastructure
from rempart.detectors.takeover import TakeoverContext
from rempart.detectors.volume import PeerVolume
from rempart.policy import Policy
from rempart.stores.base import StateStore

__all__ = [
    "Automation",
    "Detector",
    "Enumeration",
    "EventContext",
    "Finding",
    "LoginAttacks",
    "PeerVolume",
    "RefusalHook",
    "SharedInfrastructure",
    "StepUpHook",
    "TakeoverContext",
    "UnansweredChallenges",
    "UnexplainedBudget",
    "default_detectors",
]


def default_detectors(
    store: StateStore, policy: Policy, canaries: frozenset[str] = frozenset()
) -> list[Detector]:
    """The built-in detectors, the budget last."""
    return [
        LoginAttacks(store, policy),
        TakeoverContext(store, policy),
        Automation(store, policy),
        Enumeration(store, policy, canaries),
        PeerVolume(store, policy),
        SharedInfrastructure(store, policy),
        UnansweredChallenges(store, policy),
        UnexplainedBudget(store, policy),
    ]
