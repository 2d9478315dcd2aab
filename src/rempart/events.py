"""Portal events: one record per portal action, the contract between every plane.

An `Event` is a frozen msgspec struct validated when it is decoded or
converted (`Event.from_dict`, `rempart.ingestion`); building one directly
runs the cross-field checks of `__post_init__` too. Times are aware UTC
datetimes. The patient appears only as a keyed pseudonym (`subject`); the
schema rejects anything that looks like a clear NIR.

>>> from rempart.testing import make_event
>>> event = make_event(kind="record_view")
>>> event.kind, event.lookup
(<EventKind.RECORD_VIEW: 'record_view'>, <Lookup.TYPED_NIR: 'typed_nir'>)
>>> Event.from_dict(event.to_dict()) == event
True
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final

import msgspec

from rempart.pseudonym import PSEUDONYM_PATTERN

__all__ = [
    "DEPARTMENT_PATTERN",
    "RESULTS_MAX",
    "DataCategory",
    "Event",
    "EventKind",
    "Lookup",
    "Outcome",
    "Pseudonym",
    "UtcTime",
]

UtcTime = Annotated[datetime, msgspec.Meta(tz=True, description="Aware timestamp, UTC.")]
Pseudonym = Annotated[
    str, msgspec.Meta(pattern=PSEUDONYM_PATTERN, description="Keyed pseudonym of the NIR.")
]
DEPARTMENT_PATTERN: Final = "^(0[1-9]|[1-8][0-9]|9[0-5]|2A|2B|97[1-6])$"
Department = Annotated[
    str, msgspec.Meta(pattern=DEPARTMENT_PATTERN, description="French department code.")
]
Identifier = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
RESULTS_MAX: Final = 20
"""The most people one search event may list in ``results``: a portal's page of results.

It bounds what one log line costs the guard (a few store look-ups per person listed),
whoever wrote it."""


class EventKind(StrEnum):
    """What the portal did."""

    LOGIN_SUCCESS = "login_success"
    LOGIN_FAILURE = "login_failure"
    MFA_SUCCESS = "mfa_success"
    MFA_FAILURE = "mfa_failure"
    PASSWORD_RESET_REQUEST = "password_reset_request"  # noqa: S105 (an event kind)
    PASSWORD_RESET = "password_reset"  # noqa: S105 (an event kind)
    EMAIL_CHANGE = "email_change"
    MFA_CHANGE = "mfa_change"
    LOGOUT = "logout"
    RECORD_VIEW = "record_view"
    SEARCH = "search"


class Lookup(StrEnum):
    """How the professional designated the patient."""

    CARD = "card"
    TYPED_NIR = "typed_nir"
    SEARCH = "search"
    LINK = "link"


class Outcome(StrEnum):
    """What the portal answered."""

    SUCCESS = "success"
    NOT_FOUND = "not_found"
    FAILURE = "failure"
    REFUSED = "refused"


class DataCategory(StrEnum):
    """Categories of personal data a read returned (GDPR Art. 33(3)(a))."""

    IDENTITY = "identity"
    BIRTH_DATE = "birth_date"
    SEX = "sex"
    NIR = "nir"
    TREATING_DOCTOR = "treating_doctor"
    RIGHTS = "rights"
    CARE = "care"


_ACCOUNT_KINDS: Final = frozenset(EventKind) - {EventKind.SEARCH, EventKind.RECORD_VIEW}
_READ_KINDS: Final = frozenset({EventKind.RECORD_VIEW, EventKind.SEARCH})


class Event(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """One portal action.

    Fields: ``time`` (aware UTC), ``event_id`` (unique within a feed),
    ``kind``, ``account`` (claimed or authenticated login), ``session``,
    ``ip``, ``user_agent``, ``subject`` (pseudonym of the patient read),
    ``lookup`` (how the patient was designated), ``categories`` (data
    returned), ``outcome``, ``result_count`` (for searches), two coarse,
    non-identifying attributes of the patient that the portal may attach:
    ``subject_department`` (residence department) and ``birth_date_match``
    (for a typed-NIR look-up, whether the typed birth date matched), and
    ``results`` (for a successful search, the pseudonyms of the people it
    listed: at most 20, `RESULTS_MAX`, the page shown; ``result_count`` may count
    more matches, never fewer).
    """

    time: UtcTime
    event_id: Identifier
    kind: EventKind
    ip: str
    account: Identifier | None = None
    session: Identifier | None = None
    user_agent: Annotated[str, msgspec.Meta(max_length=1024)] = ""
    subject: Pseudonym | None = None
    lookup: Lookup | None = None
    categories: tuple[DataCategory, ...] = ()
    outcome: Outcome = Outcome.SUCCESS
    result_count: Annotated[int, msgspec.Meta(ge=0)] | None = None
    subject_department: Department | None = None
    birth_date_match: bool | None = None
    results: Annotated[tuple[Pseudonym, ...], msgspec.Meta(max_length=RESULTS_MAX)] = ()

    def __post_init__(self) -> None:
        # Raised as ValueError so that msgspec reports it as a located ValidationError.
        try:
            self.time.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValueError("time: out of range once converted to UTC") from None
        try:
            ipaddress.ip_address(self.ip)
        except ValueError:
            raise ValueError("ip: not an IPv4 or IPv6 address") from None
        if self.kind in _ACCOUNT_KINDS and self.account is None:
            raise ValueError(f"account: required for kind {self.kind.value!r}")
        if self.kind in _READ_KINDS:
            if self.account is None:
                raise ValueError(f"account: required for kind {self.kind.value!r}")
            if self.lookup is None:
                raise ValueError(f"lookup: required for kind {self.kind.value!r}")
        if (
            self.kind is EventKind.RECORD_VIEW
            and self.outcome is Outcome.SUCCESS
            and (self.subject is None or not self.categories)
        ):
            raise ValueError("subject: a successful record_view needs a subject and categories")
        if self.subject is not None and self.kind not in _READ_KINDS:
            raise ValueError(f"subject: not allowed for kind {self.kind.value!r}")
        if self.results:
            self._check_results()

    def _check_results(self) -> None:
        if self.kind is not EventKind.SEARCH or self.outcome is not Outcome.SUCCESS:
            raise ValueError("results: only a successful search lists people")
        if self.result_count is not None and len(self.results) > self.result_count:
            raise ValueError(
                f"results: {len(self.results)} people listed but result_count is "
                f"{self.result_count}"
            )

    @property
    def is_read(self) -> bool:
        """Whether patient data was returned to the caller."""
        return (
            self.kind is EventKind.RECORD_VIEW
            and self.outcome is Outcome.SUCCESS
            and self.subject is not None
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (defaults omitted)."""
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Event:
        """Validate and build an event; raises `msgspec.ValidationError` with the field path."""
        return msgspec.convert(record, cls)
