"""The account directory: sites (pharmacies, practices…) and the accounts that work there.

The guard uses it to know an account's profession (its peer group), its site
(for site-level evidence and catchment) and the site's opening hours, in the
site's local time zone.

>>> hours = (OpeningInterval(weekday=0, opens=510, closes=1170),)
>>> site = Site(site="S1", kind=SiteKind.PHARMACY, department="75", commune="75056",
...             timezone="Europe/Paris", hours=hours)
>>> site.is_open(weekday=0, minute=600)
True
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated, Any

import msgspec

from rempart.events import Department, Identifier

__all__ = ["Account", "OpeningInterval", "Profession", "Site", "SiteKind"]

_MINUTES_PER_DAY = 1440


class Profession(StrEnum):
    """Professions that read patient data on the portal."""

    PHARMACIST = "pharmacist"
    GP = "gp"
    NURSE = "nurse"
    PHYSIOTHERAPIST = "physiotherapist"
    SPECIALIST = "specialist"
    BILLING = "billing"


class SiteKind(StrEnum):
    """Kinds of places where professionals work."""

    PHARMACY = "pharmacy"
    GP_PRACTICE = "gp_practice"
    NURSING_PRACTICE = "nursing_practice"
    PHYSIO_PRACTICE = "physio_practice"
    SPECIALIST_PRACTICE = "specialist_practice"
    BILLING_OFFICE = "billing_office"


class OpeningInterval(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Open from ``opens`` to ``closes``, in minutes after local midnight of ``weekday``.

    ``weekday`` is 0 for Monday. ``closes`` may pass 1440 for a night that ends
    the next morning (night-duty pharmacies).
    """

    weekday: Annotated[int, msgspec.Meta(ge=0, le=6)]
    opens: Annotated[int, msgspec.Meta(ge=0, lt=_MINUTES_PER_DAY)]
    closes: Annotated[int, msgspec.Meta(gt=0, le=2 * _MINUTES_PER_DAY)]

    def __post_init__(self) -> None:
        if self.closes <= self.opens:
            raise ValueError("closes: must be after opens")


class Site(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A place of practice with its opening hours in local time."""

    site: Identifier
    kind: SiteKind
    department: Department
    commune: Annotated[str, msgspec.Meta(pattern="^[0-9][0-9AB][0-9]{3}$")]
    timezone: str
    hours: tuple[OpeningInterval, ...]
    night_duty: bool = False
    opened: date | None = None

    def is_open(self, *, weekday: int, minute: int) -> bool:
        """Whether the site is open at local ``minute`` after midnight of ``weekday``."""
        for interval in self.hours:
            start = interval.weekday * _MINUTES_PER_DAY + interval.opens
            end = interval.weekday * _MINUTES_PER_DAY + interval.closes
            now = weekday * _MINUTES_PER_DAY + minute
            # A Sunday night interval ends on Monday morning: also test one week later.
            if start <= now < end or start <= now + 7 * _MINUTES_PER_DAY < end:
                return True
        return False

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (defaults omitted)."""
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Site:
        """Validate and build a site."""
        return msgspec.convert(record, cls)


class Account(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """A portal login: a person, or a counter account shared by a team (``shared``)."""

    account: Identifier
    profession: Profession
    site: Identifier
    shared: bool = False
    created: date | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (defaults omitted)."""
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Account:
        """Validate and build an account."""
        return msgspec.convert(record, cls)
