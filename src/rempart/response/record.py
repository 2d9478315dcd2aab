"""One containment action as the ledger keeps it: what, against whom, until when, and who asked.

>>> from datetime import UTC, datetime
>>> record = ActionRecord(
...     id=1, time=datetime(2022, 3, 1, 9, 0, tzinfo=UTC), kind=ActionKind.BAN_ADDRESS,
...     target="51.75.3.0/24", until=datetime(2022, 3, 1, 10, 0, tzinfo=UTC),
...     trigger="analyst:alice", reasons=("password_guessing",))
>>> record.in_force_at(datetime(2022, 3, 1, 9, 30, tzinfo=UTC))
True
>>> str(record.network())
'51.75.3.0/24'
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Final

import msgspec
from stdnum.fr import nir as stdnum_nir

from rempart.events import UtcTime
from rempart.guard.decision import ActionKind

__all__ = ["LIFTABLE", "ActionRecord", "RecordState", "Trigger"]

LIFTABLE: Final = frozenset({ActionKind.LOCK_ACCOUNT, ActionKind.BAN_ADDRESS})
"""The kinds that stay in force until they expire or are lifted."""

TRIGGER_PATTERN: Final = r"^[a-z][a-z0-9_-]*:[^\s:][^\s]{0,127}$"
Trigger = Annotated[
    str,
    msgspec.Meta(
        pattern=TRIGGER_PATTERN,
        description="Who or what asked: 'guard:budget', 'analyst:alice'.",
    ),
]

_NIR_SHAPE: Final = re.compile(r"[1-478]\d{4}(?:\d{2}|2[AB])\d{8}")
_NIR_SEPARATORS: Final = re.compile(r"[\s.-]")


class RecordState(StrEnum):
    """Where a record stands.

    ``applied``: every enforcer for its kind carried it out (or none handles
    the kind). ``failed``: at least one enforcer could not; ``error`` says
    which and why, and the action itself stands. ``lifted``: a lift record,
    ending the records listed in its ``lifts``.
    """

    APPLIED = "applied"
    LIFTED = "lifted"
    FAILED = "failed"


def _looks_like_nir(target: str) -> bool:
    """A clear NIR (15 characters with a valid key) must never reach the ledger or a log."""
    compact = _NIR_SEPARATORS.sub("", target).upper()
    return bool(_NIR_SHAPE.fullmatch(compact)) and bool(stdnum_nir.is_valid(compact))


class ActionRecord(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One containment action, or the lift of earlier ones, with who or what triggered it.

    ``id`` is the ledger's sequence number; a later record with the same id
    supersedes an earlier one (``applied`` becoming ``failed``). A lift
    record has ``state`` ``lifted`` (``failed`` when an enforcer could not
    carry the lift out) and lists the ids it ended in ``lifts``. Targets are
    accounts, sessions and addresses: a target shaped like a clear NIR is
    refused.
    """

    id: Annotated[int, msgspec.Meta(ge=1)]
    time: UtcTime
    kind: ActionKind
    target: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    trigger: Trigger
    until: UtcTime | None = None
    event_id: str | None = None
    reasons: tuple[str, ...] = ()
    state: RecordState = RecordState.APPLIED
    lifts: tuple[int, ...] = ()
    error: str | None = None

    def __post_init__(self) -> None:
        for name, moment in (("time", self.time), ("until", self.until)):
            if moment is not None and (moment.tzinfo is None or moment.utcoffset() != timedelta(0)):
                raise ValueError(f"{name}: expected an aware UTC datetime")
        if not re.fullmatch(TRIGGER_PATTERN, self.trigger):
            raise ValueError("trigger: expected 'source:name', e.g. 'guard:budget'")
        if _looks_like_nir(self.target):
            # The message never repeats the target: it is a clear NIR.
            raise ValueError("target: a clear NIR is never an action target")

    @property
    def is_lift(self) -> bool:
        """Whether this record lifts earlier ones rather than acting."""
        return bool(self.lifts)

    def in_force_at(self, now: datetime) -> bool:
        """Whether a lock or ban is unexpired at ``now`` (lifts are the ledger's business)."""
        return (
            self.kind in LIFTABLE and not self.is_lift and (self.until is None or self.until > now)
        )

    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        """The banned address or prefix (host bits cleared); ValueError when it is neither."""
        return ipaddress.ip_network(self.target, strict=False)
