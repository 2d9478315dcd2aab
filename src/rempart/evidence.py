"""Care evidence: what explains a legitimate read (a card read, a claim, a prescription…).

A professional almost always reads a patient for a reason the insurer can
see. Evidence ties a subject (pseudonym) to an account or a site at a time.
The guard treats a read as *explained* when evidence for that subject and
that account (or its site) exists before the read.

Evidence is of two sorts. *Dated* evidence (a card read, an appointment, a
prescription, a claim) is a fact at its ``time`` and explains reads for a
while after it. A *standing* relationship (`STANDING_KINDS`: the declared
treating doctor, a long-term-condition protocol, a pharmacy's regular
patient) holds from its ``time`` until it ends, however long ago it began. A
record with ``ended`` ends one: the relationship holds until that time (at
once when ``ended`` is not after the record's ``time``, a change of doctor
reported after the fact). Only standing kinds may carry ``ended``.

>>> from datetime import datetime, UTC
>>> CareEvidence(time=datetime(2022, 3, 1, 9, tzinfo=UTC), kind=EvidenceKind.CARD_READ,
...              subject="ps_" + "a" * 24, site="S00001").kind.value
'card_read'
>>> CareEvidence(time=datetime(2022, 3, 1, 9, tzinfo=UTC), kind=EvidenceKind.TREATING_DOCTOR,
...              subject="ps_" + "a" * 24, account="A00001",
...              ended=datetime(2022, 3, 1, 9, tzinfo=UTC)).standing
True
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Final

import msgspec

from rempart.events import Identifier, Pseudonym, UtcTime

__all__ = ["STANDING_KINDS", "CareEvidence", "EvidenceKind"]


class EvidenceKind(StrEnum):
    """Kinds of care evidence, from the strongest link to the weakest."""

    CARD_READ = "card_read"
    TREATING_DOCTOR = "treating_doctor"
    """The patient declared the account's holder as treating doctor (standing)."""
    ALD_PROTOCOL = "ald_protocol"
    """A long-term-condition (ALD) care protocol names the account's holder (standing)."""
    REGULAR_PATIENT = "regular_patient"
    """The patient is a regular of the site, a pharmacy's (standing)."""
    APPOINTMENT = "appointment"
    PRESCRIPTION = "prescription"
    CLAIM = "claim"


STANDING_KINDS: Final = frozenset(
    {EvidenceKind.TREATING_DOCTOR, EvidenceKind.ALD_PROTOCOL, EvidenceKind.REGULAR_PATIENT}
)
"""Kinds that are a relationship valid until ended, rather than a dated fact."""


class CareEvidence(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One piece of evidence linking a subject to an account or a site at a time.

    ``ended``, on a standing relationship only, is when that relationship
    ended: the record ends it.
    """

    time: UtcTime
    kind: EvidenceKind
    subject: Pseudonym
    account: Identifier | None = None
    site: Identifier | None = None
    ended: UtcTime | None = None

    def __post_init__(self) -> None:
        if self.account is None and self.site is None:
            raise ValueError("account: evidence needs an account or a site")
        if self.ended is not None and self.kind not in STANDING_KINDS:
            raise ValueError(
                f"ended: only a standing relationship ends, not {self.kind.value!r} evidence"
            )

    @property
    def standing(self) -> bool:
        """Whether this is a standing relationship (held until ended) rather than dated."""
        return self.kind in STANDING_KINDS

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (defaults omitted)."""
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> CareEvidence:
        """Validate and build evidence; raises `msgspec.ValidationError` with the field path."""
        return msgspec.convert(record, cls)
