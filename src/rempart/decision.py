"""What the guard answers: a verdict, the actions to take, and the reasons with their figures.

Part of the core vocabulary, like the event model: detectors word their
findings with it, and the guard, response, service and replay planes pass
decisions around, so it depends on none of them.

>>> reason = Reason(detector="budget", code="unexplained_budget",
...                 message="41 patients read in 24 h, none explained; budget 40",
...                 figures={"unexplained_24h": 41, "budget_24h": 40})
>>> Decision(event_id="ev1", verdict=Verdict.CHALLENGE, reasons=(reason,)).verdict.value
'challenge'
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import msgspec

from rempart.events import UtcTime

__all__ = ["Action", "ActionKind", "Decision", "Reason", "Verdict"]


class Verdict(StrEnum):
    """Allow the action, require step-up authentication first, or refuse it."""

    ALLOW = "allow"
    CHALLENGE = "challenge"
    DENY = "deny"


class ActionKind(StrEnum):
    """Containment the portal (or an enforcer) carries out."""

    REVOKE_SESSION = "revoke_session"
    LOCK_ACCOUNT = "lock_account"  # and force a password reset out of band
    BAN_ADDRESS = "ban_address"
    ALERT = "alert"
    NOTIFY_OWNER = "notify_owner"  # through a channel the thief does not hold (phone, letter)


class Action(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One action: its kind, its target (session, account, address) and its expiry."""

    kind: ActionKind
    target: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    until: UtcTime | None = None


class Reason(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Why: the detector, a stable code, a sentence for an analyst, and the figures behind it."""

    detector: str
    code: str
    message: str
    figures: dict[str, float] = msgspec.field(default_factory=dict)


class Decision(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """The guard's answer for one event, keyed by its ``event_id``."""

    event_id: str
    verdict: Verdict
    actions: tuple[Action, ...] = ()
    reasons: tuple[Reason, ...] = ()
    time: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (defaults omitted)."""
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result
