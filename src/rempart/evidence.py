"""Care evidence: what explains a legitimate read (a card read, a claim, a prescription…).

A professional almost always reads a patient for a reason the insurer can
see. Evidence ties a subject (pseudonym) to an account or a site at a time.
The guard treats a read as *explained* when evidence for that subject and
that account (or its site) exists before the read.

>>> from datetime import datetime, UTC
>>> CareEvidence(time=datetime(2022, 3, 1, 9, tzinfo=UTC), kind=EvidenceKind.CARD_READ,
...              subject="ps_" + "a" * 24, site="S00001").kind.value
'card_read'
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import msgspec

from rempart.events import Identifier, Pseudonym, UtcTime

__all__ = ["CareEvidence", "EvidenceKind"]


class EvidenceKind(StrEnum):
    """Kinds of care evidence, from the strongest link to the weakest."""

    CARD_READ = "card_read"
    TREATING_DOCTOR = "treating_doctor"
    APPOINTMENT = "appointment"
    PRESCRIPTION = "prescription"
    CLAIM = "claim"


class CareEvidence(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One piece of evidence linking a subject to an account or a site at a time."""

    time: UtcTime
    kind: EvidenceKind
    subject: Pseudonym
    account: Identifier | None = None
    site: Identifier | None = None

    def __post_init__(self) -> None:
        if self.account is None and self.site is None:
            raise ValueError("account: evidence needs an account or a site")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (defaults omitted)."""
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> CareEvidence:
        """Validate and build evidence; raises `msgspec.ValidationError` with the field path."""
        return msgspec.convert(record, cls)
