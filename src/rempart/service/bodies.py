"""The decision API's request and response bodies, as msgspec structs.

They are the one source of truth of the wire format: the API decodes and
encodes them with msgspec, and `rempart.service.openapi` publishes their
JSON Schema as the OpenAPI components.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final

import msgspec

from rempart.events import Event
from rempart.evidence import CareEvidence
from rempart.guard.decision import Decision

__all__ = [
    "MAX_BATCH",
    "REQUEST_TYPES",
    "RESPONSE_TYPES",
    "AccountState",
    "BanLifted",
    "BouncerDecision",
    "DecisionsStream",
    "EventBatch",
    "EvidenceBatch",
    "Health",
    "LockLifted",
    "Observed",
    "Problem",
    "StepUp",
    "UnexplainedReads",
]

MAX_BATCH: Final = 1_000
"""Most events (or pieces of evidence) in one request."""

EventBatch = Annotated[list[Event], msgspec.Meta(max_length=MAX_BATCH)]
EvidenceBatch = Annotated[list[CareEvidence], msgspec.Meta(max_length=MAX_BATCH)]


class StepUp(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The outcome of the step-up authentication a challenge asked for on ``event``."""

    event: Event
    passed: bool


class Observed(msgspec.Struct, frozen=True):
    """How many pieces of care evidence the guard now knows of."""

    observed: int


class UnexplainedReads(msgspec.Struct, frozen=True):
    """Unexplained reads counted in the budget's rolling hour, day and week."""

    hour: float
    day: float
    week: float


class AccountState(msgspec.Struct, frozen=True):
    """What the guard holds about one account, for an analyst.

    ``known``: the account is in the directory. ``recent_decisions``: the
    last decisions this API instance answered for it, newest first.
    """

    account: str
    known: bool
    locked: bool
    locked_since: datetime | None
    lock_reason: str | None
    unexplained_reads: UnexplainedReads
    recent_decisions: list[Decision]


class LockLifted(msgspec.Struct, frozen=True):
    """The account's lock is lifted (it was perhaps not locked)."""

    account: str
    locked: bool


class BanLifted(msgspec.Struct, frozen=True):
    """The address's ban is lifted (it was perhaps not banned)."""

    address: str
    banned: bool


class BouncerDecision(msgspec.Struct, frozen=True):
    """A ban as CrowdSec's Local API gives it to a bouncer (its swagger's ``Decision``).

    Documents the stream's answer, which `rempart.response.crowdsec` builds:
    ``scope`` is ``Ip`` or ``Range``, ``value`` the address or CIDR prefix,
    ``duration`` the time left as Go writes it (``3h59m58s``).
    """

    id: int
    origin: str
    type: str
    scope: str
    value: str
    duration: str
    until: str
    scenario: str


class DecisionsStream(msgspec.Struct, frozen=True):
    """What a bouncer must add (``new``) and remove (``deleted``) since its last poll."""

    new: list[BouncerDecision]
    deleted: list[BouncerDecision]


class Health(msgspec.Struct, frozen=True):
    """The process answers (``ok``) or its store does (``ready``)."""

    status: str


class Problem(msgspec.Struct, frozen=True, omit_defaults=True):
    """An error: a stable code, a sentence, and for a bad input the JSON path of the culprit."""

    error: str
    message: str
    field: str | None = None


RESPONSE_TYPES: Final = (
    Decision,
    Observed,
    AccountState,
    LockLifted,
    BanLifted,
    DecisionsStream,
    Health,
    Problem,
)
REQUEST_TYPES: Final = (Event, CareEvidence, StepUp)
