"""HL7 FHIR AuditEvent logs (R4 and R5), as NDJSON or as Bundles, read as portal events.

A FHIR server that keeps its own audit trail (HAPI, Firely, Aidbox, or a
portal following IHE's Basic Audit Log Patterns) records one AuditEvent per
access. `FhirAuditParser` reads two shapes of it:

* **NDJSON**, as FHIR Bulk Data export writes: one resource per line.
* **A Bundle** (the ``searchset`` that ``GET [base]/AuditEvent`` returns, or a
  ``collection``): one JSON document, compact on a line or pretty-printed
  across many, whose ``entry[].resource`` are AuditEvents. A document spanning
  lines is buffered until its brackets close, at most `DOCUMENT_LIMIT` bytes;
  a longer one is rejected, located at its first line. A result is located at
  the line where its Bundle entry starts, so that a bad entry is found in an
  editor. A single AuditEvent may be pretty-printed the same way. A document
  still open when a new file starts, or when a line holds a whole resource at
  its first column (as NDJSON lines do), was cut short: it is rejected and
  reading goes on with that line.

Each resource is checked with the maintained FHIR models of ``fhir.resources``:
one with an R5 ``code`` against the R5 model
(``fhir.resources.auditevent.AuditEvent``), one with an R4 ``type`` against
``fhir.resources.R4B.auditevent.AuditEvent``: R4B changed a handful of
resources and left AuditEvent exactly as R4 (4.0.1) defined it, so the R4B model
is the R4 one. A resource failing its model is a reject whose ``field`` is the
JSON path of the first failing element and whose message never echoes a value.

The mapping, where *the requestor* is the first agent with ``requestor: true``
(the user whose request the server served):

============  ================================================  ==============================
Event field   R4                                                R5
============  ================================================  ==============================
time          ``recorded``, converted to UTC                    ``recorded``, to UTC
event_id      ``fhir_`` + ``id``; without an ``id``, a digest   same
              of the resource (`LineIds`)
kind          ``type`` and ``subtype`` codes (below)            ``code`` and ``category``
account       the requestor's ``who.identifier.value``          same
session       the requestor's first ``policy``: IHE BALP        same
              puts the SAML assertion ID or OAuth token ID
              there; none if absent
ip            the requestor's ``network.address`` (required,    the requestor's
              an IPv4 or IPv6 address)                          ``networkString`` (same)
user_agent    none (AuditEvent has no element for it)           none
subject       the first ``entity`` whose ``what.identifier``    same
              has an INS system (`FhirMapping.patient_systems`,
              INS-NIR and INS-NIA by default): a clear NIR is
              pseudonymised at once, a ``ps_…`` value kept
lookup        `FhirMapping.read_lookup` (``typed_nir``) for a   same
              read, `FhirMapping.search_lookup` (``search``)
              for a search
categories    `FhirMapping.read_categories` for a successful    same
              read, `FhirMapping.search_categories` for a
              successful search, none on failure
outcome       ``outcome`` ``0`` success; ``4``, ``8``, ``12``   ``outcome.code`` likewise
              (minor, serious, major failure) failure;
              absent: success
============  ================================================  ==============================

The kind, from the codes of the event type (R4 ``type`` and ``subtype``, R5
``code`` and ``category``) and ``action``:

===============================================  ===========  ===========================
code                                             action       kind
===============================================  ===========  ===========================
DICOM ``110122`` Login (under ``110114`` User    any          ``login_success`` (outcome
Authentication)                                               ``0``), else
                                                              ``login_failure``
DICOM ``110123`` Logout                          any          ``logout``
restful-interaction ``search``, ``search-type``  E, R or      ``search``
or ``search-system``                             none
restful-interaction ``read`` or ``vread``        R or none    ``record_view``
anything else                                                 `Skipped`, with the reason
===============================================  ===========  ===========================

A successful read naming no patient (no entity with an INS identifier, say a
read of a Practitioner) is `Skipped`; a failed one is kept without a subject.
Resources other than AuditEvent (an OperationOutcome in a searchset) are
`Skipped`. Only the subject may come from a NIR: an account holding a valid
NIR is a reject, and an ``id`` or ``policy`` holding one is replaced by its
digest, so that the clear number is stored nowhere.

>>> import json
>>> from rempart.ingestion.logs.base import LogLine
>>> login = {
...     "resourceType": "AuditEvent", "id": "example-login",
...     "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110114"},
...     "subtype": [{"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110122"}],
...     "action": "E", "recorded": "2013-06-20T23:41:23+02:00", "outcome": "0",
...     "agent": [{"who": {"identifier": {"value": "95"}}, "requestor": True,
...                "network": {"address": "127.0.0.1", "type": "2"}}],
...     "source": {"observer": {"display": "hl7connect.healthintersections.com.au"}},
... }
>>> [event] = FhirAuditParser().parse([LogLine("audit.ndjson", 1, json.dumps(login))])
>>> event.kind.value, event.account, event.time.isoformat(), event.event_id
('login_success', '95', '2013-06-20T21:41:23+00:00', 'fhir_example-login')
"""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Protocol, TypeVar

import msgspec
from fhir.resources.auditevent import AuditEvent as R5AuditEvent
from fhir.resources.R4B.auditevent import AuditEvent as R4AuditEvent
from pydantic import ValidationError

from rempart.errors import ConfigError, NirError
from rempart.events import DataCategory, Event, EventKind, Lookup, Outcome
from rempart.ingestion.logs.base import (
    LineIds,
    LogLine,
    ParsedLine,
    ParserOptions,
    ParserRegistry,
    Skipped,
    reject,
)
from rempart.ingestion.rejected import RAW_LIMIT, Rejected
from rempart.nir import holds_nir
from rempart.pseudonym import Pseudonymizer, is_pseudonym

__all__ = [
    "DOCUMENT_LIMIT",
    "INS_NIA_SYSTEM",
    "INS_NIR_SYSTEM",
    "FhirAuditParser",
    "FhirMapping",
    "register",
]

DOCUMENT_LIMIT: Final = 64 * 1024 * 1024
"""Bytes of one JSON document spanning lines buffered at most; a longer one is rejected."""

INS_NIR_SYSTEM: Final = "urn:oid:1.2.250.1.213.1.4.8"
"""Identifier system of the INS built on the NIR (ANS, Référentiel INS)."""
INS_NIA_SYSTEM: Final = "urn:oid:1.2.250.1.213.1.4.9"
"""Identifier system of the INS built on the NIA, the number given while a NIR is awaited."""

_DCM: Final = frozenset(
    {"http://dicom.nema.org/resources/ontology/DCM", "http://nema.org/dicom/dicm"}
)
_RESTFUL_INTERACTION: Final = "http://hl7.org/fhir/restful-interaction"
_LOGIN: Final = "110122"
_LOGOUT: Final = "110123"
_OUTCOME_SYSTEMS: Final = frozenset(
    {
        None,
        "http://terminology.hl7.org/CodeSystem/audit-event-outcome",
        "http://hl7.org/fhir/audit-event-outcome",
    }
)
_OUTCOMES: Final = {
    "0": Outcome.SUCCESS,
    "4": Outcome.FAILURE,
    "8": Outcome.FAILURE,
    "12": Outcome.FAILURE,
}
_T = TypeVar("_T")
_RESOURCE_TYPE: Final = re.compile(r"[A-Z][A-Za-z]{0,63}")
_ELEMENT: Final = re.compile(r"_?[A-Za-z][A-Za-z0-9]*")
_ID_LIMIT: Final = 128 - len("fhir_")
_SESSION_LIMIT: Final = 128

# A JSON string never spans lines (a raw newline inside one is invalid JSON), so a line's
# brackets outside its strings tell how deep a document spanning lines has gone.
_STRING: Final = re.compile(r'"(?:[^"\\]|\\.)*"')
_SPACE: Final = re.compile(r"[ \t\n\r]*")

# pydantic's error types, in words; its messages are not used because they echo the value.
_ERROR_WORDS: Final = {
    "missing": "required element missing",
    "model_field_validation.missing": "required element missing",
    "model_validation_format": "not of this element's FHIR type",
    "fhir-validation-wrong-resource-type": "not of the resource type expected here",
    "extra_forbidden": "not an element of this release's AuditEvent",
    "model_type": "expected a JSON object",
    "dict_type": "expected a JSON object",
    "list_type": "expected a JSON array",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "string_pattern_mismatch": "not of the form FHIR requires",
    "base64_decode": "not base64",
    "value_error": "not a valid value of its FHIR type",
}


@dataclass(frozen=True, slots=True)
class FhirMapping:
    """What the AuditEvents do not say, and which identifiers name a patient.

    ``read_categories`` are the data a successful read returned (an AuditEvent
    does not list them; by default what a portal's patient page shows:
    identity, birth date, sex, NIR and health-insurance rights).
    ``search_categories`` are those of a successful search (none by default).
    ``read_lookup`` and ``search_lookup`` say how the patient was designated.
    ``patient_systems`` are the identifier systems whose value is a NIR (or
    already a pseudonym); add ``urn:oid:1.2.250.1.213.1.4.10`` (INS-NIR-TEST)
    or ``…1.4.11`` (INS-NIR-DEMO) to read a test platform's logs.
    ``read_interactions`` and ``search_interactions`` are the
    restful-interaction codes taken as a read and as a search.

    >>> FhirMapping(read_categories=("identity",)).read_categories
    (<DataCategory.IDENTITY: 'identity'>,)
    >>> FhirMapping(read_lookup="telepathy")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    rempart.errors.ConfigError: read_lookup: expected one of card, typed_nir, search, link, got ...
    """

    read_categories: tuple[DataCategory, ...] = (
        DataCategory.IDENTITY,
        DataCategory.BIRTH_DATE,
        DataCategory.SEX,
        DataCategory.NIR,
        DataCategory.RIGHTS,
    )
    search_categories: tuple[DataCategory, ...] = ()
    read_lookup: Lookup = Lookup.TYPED_NIR
    search_lookup: Lookup = Lookup.SEARCH
    patient_systems: frozenset[str] = frozenset({INS_NIR_SYSTEM, INS_NIA_SYSTEM})
    read_interactions: frozenset[str] = frozenset({"read", "vread"})
    search_interactions: frozenset[str] = frozenset({"search", "search-type", "search-system"})

    def __post_init__(self) -> None:
        categories = {category.value: category for category in DataCategory}
        for name in ("read_categories", "search_categories"):
            values = getattr(self, name)
            if isinstance(values, str) or not all(
                isinstance(value, str) and value in categories for value in values
            ):
                raise ConfigError(name, f"a list of {', '.join(categories)}", values)
            object.__setattr__(self, name, tuple(categories[value] for value in values))
        for name in ("read_lookup", "search_lookup"):
            value = getattr(self, name)
            if not isinstance(value, str) or value not in {lookup.value for lookup in Lookup}:
                raise ConfigError(name, f"one of {', '.join(Lookup)}", value)
            object.__setattr__(self, name, Lookup(value))
        for name in ("patient_systems", "read_interactions", "search_interactions"):
            values = getattr(self, name)
            if isinstance(values, str) or not all(isinstance(value, str) for value in values):
                raise ConfigError(name, "a set of strings", values)
            object.__setattr__(self, name, frozenset(values))


class FhirAuditParser:
    """Reads FHIR AuditEvent resources (R4, R5; NDJSON or Bundles) as portal events.

    ``pseudonymizer`` turns a patient's clear NIR into its pseudonym (without
    one, a clear NIR makes the resource a reject); ``mapping`` fills in what
    AuditEvents leave unsaid; ``document_limit`` bounds the bytes of a JSON
    document spanning several lines.
    """

    name = "fhir"

    def __init__(
        self,
        pseudonymizer: Pseudonymizer | None = None,
        mapping: FhirMapping | None = None,
        *,
        document_limit: int = DOCUMENT_LIMIT,
    ) -> None:
        self._pseudonymizer = pseudonymizer
        self._mapping = mapping if mapping is not None else FhirMapping()
        self._document_limit = document_limit

    @classmethod
    def from_options(cls, options: ParserOptions) -> FhirAuditParser:
        """The parser for `ParserOptions`: ``config`` is a `FhirMapping` or ``None``."""
        config = options.config
        if config is not None and not isinstance(config, FhirMapping):
            raise ConfigError("config", "a FhirMapping", type(config).__name__)
        return cls(options.pseudonymizer, config)

    def parse(self, lines: Iterable[LogLine]) -> Iterator[ParsedLine]:
        """The outcome of each resource, in order: one per NDJSON line, one per Bundle entry."""
        ids = LineIds()
        limit = self._document_limit
        document: _Document | None = None
        for line in lines:
            text = line.text
            if document is not None:
                if line.source == document.first.source and _standalone(text) is None:
                    # The hot loop of a pretty-printed Bundle: a million lines for 20,000 entries.
                    document.depth += _depth(text)
                    if not document.overflowed:
                        document.size += _size(text) + 1
                        if document.size > limit:
                            document.overflowed = True
                            document.lines, document.numbers = [], []
                            yield reject(document.first, f"JSON document longer than {limit} bytes")
                        else:
                            document.lines.append(text)
                            document.numbers.append(line.line)
                    if document.depth <= 0:
                        if not document.overflowed:
                            yield from self._document(document, ids)
                        document = None
                    continue
                # A new file, or a line holding a whole resource: the document was cut short.
                if not document.overflowed:
                    yield _unclosed(document)
                document = None
            try:
                value = _decode_line(text)
            except (ValueError, RecursionError) as error:
                if _opens_document(text):
                    document = _Document(line, [text], [line.line], _depth(text), _size(text))
                    continue
                yield reject(line, f"not JSON: {_json_error(error)}")
                continue
            yield from self._value(value, _Place(line.source, line.line, "$", text), None, ids)
        if document is not None and not document.overflowed:
            yield _unclosed(document)

    def _document(self, document: _Document, ids: LineIds) -> Iterator[ParsedLine]:
        text = "\n".join(document.lines)
        first = document.first
        place = _Place(first.source, first.line, "$", text)
        try:
            value, offsets = _decode_document(text)
        except (ValueError, RecursionError) as error:
            where = ""
            if isinstance(error, json.JSONDecodeError) and error.lineno <= len(document.numbers):
                where = f" at line {document.numbers[error.lineno - 1]}"
            yield place.reject(f"not a JSON document: {_json_error(error)}{where}", None)
            return
        starts = [0]
        for part in document.lines[:-1]:
            starts.append(starts[-1] + len(part) + 1)
        entry_lines = [document.numbers[bisect.bisect_right(starts, at) - 1] for at in offsets]
        yield from self._value(value, place, entry_lines, ids)

    def _value(
        self, value: Any, place: _Place, entry_lines: Sequence[int] | None, ids: LineIds
    ) -> Iterator[ParsedLine]:
        if not isinstance(value, dict):
            yield place.reject("expected a JSON object (a FHIR resource)", "")
            return
        if value.get("resourceType") != "Bundle":
            yield self._resource(value, place, ids)
            return
        entries = value.get("entry", [])
        if not isinstance(entries, list):
            yield place.reject("expected a JSON array", ".entry")
            return
        if not entries:
            yield Skipped(place.source, place.line, "a Bundle with no entries")
        if entry_lines is None or len(entry_lines) != len(entries):
            entry_lines = [place.line] * len(entries)
        for index, (entry, line) in enumerate(zip(entries, entry_lines, strict=True)):
            at = _Place(place.source, line, f"{place.path}.entry[{index}]", entry)
            if not isinstance(entry, dict):
                yield at.reject("expected a JSON object (a Bundle entry)", "")
            elif not isinstance(entry.get("resource"), dict):
                yield at.reject("a Bundle entry needs a resource", ".resource")
            else:
                resource = entry["resource"]
                yield self._resource(
                    resource, _Place(place.source, line, f"{at.path}.resource", resource), ids
                )

    def _resource(self, resource: dict[str, Any], place: _Place, ids: LineIds) -> ParsedLine:
        resource_type = resource.get("resourceType")
        if resource_type != "AuditEvent":
            if not isinstance(resource_type, str):
                return place.reject("a FHIR resource needs a resourceType", ".resourceType")
            if not _RESOURCE_TYPE.fullmatch(resource_type):
                return place.reject("not a FHIR resource type", ".resourceType")
            return Skipped(
                place.source, place.line, f"resource type {resource_type}, not AuditEvent"
            )
        has_code, has_type = "code" in resource, "type" in resource
        if has_code == has_type:
            return place.reject(
                "an AuditEvent has either code (R5) or type (R4)"
                if has_code
                else "an AuditEvent needs code (R5) or type (R4)",
                ".code" if has_code else ".type",
            )
        try:
            facts = _r5_facts(resource) if has_code else _r4_facts(resource)
        except ValidationError as error:
            release = "R5" if has_code else "R4"
            path, words = _first_error(error)
            return place.reject(f"not a valid {release} AuditEvent: {words}", path)
        except RecursionError:
            return place.reject("an AuditEvent nested too deep", "")
        except _NullElement as null:
            return place.reject("a required element is null", null.path)
        return self._event(facts, resource, place, ids)

    def _event(
        self, facts: _Facts, resource: dict[str, Any], place: _Place, ids: LineIds
    ) -> ParsedLine:
        kind = _kind(facts, self._mapping)
        if not isinstance(kind, EventKind):
            return Skipped(place.source, place.line, kind)
        outcome = _outcome(facts)
        if outcome is None:
            return place.reject(
                "not an audit-event-outcome code (0, 4, 8 or 12)", facts.outcome_path
            )
        if kind is EventKind.LOGIN_SUCCESS and outcome is not Outcome.SUCCESS:
            kind = EventKind.LOGIN_FAILURE
        if facts.recorded is None or facts.recorded.tzinfo is None:
            return place.reject("recorded: an instant with its time zone is required", ".recorded")
        try:
            time = facts.recorded.astimezone(UTC)
        except (OverflowError, ValueError):
            return place.reject("recorded: out of range once converted to UTC", ".recorded")
        requestor = next((i for i, agent in enumerate(facts.agents) if agent.requestor), None)
        if requestor is None:
            return place.reject("no agent with requestor: true (the user served)", ".agent")
        agent = facts.agents[requestor]
        at = f".agent[{requestor}]"
        identifier = agent.who.identifier if agent.who is not None else None
        account = (identifier.value or "").strip() if identifier is not None else ""
        if not account:
            return place.reject("the requestor has no who.identifier.value", f"{at}.who.identifier")
        if len(account) > 128:
            return place.reject("account longer than 128 characters", f"{at}.who.identifier.value")
        if holds_nir(account):
            return place.reject("account holds a clear NIR", f"{at}.who.identifier.value")
        address = facts.addresses[requestor]
        address_path = f"{at}.{facts.address_element}"
        if address is None:
            return place.reject("the requestor's network address is required", address_path)
        try:
            ip = str(ipaddress.ip_address(address.strip()))
        except ValueError:
            return place.reject(
                "the requestor's network address is not an IP address", address_path
            )
        fields: dict[str, Any] = {
            "time": time,
            "event_id": _event_id(facts, resource, ids),
            "kind": kind.value,
            "ip": ip,
            "account": account,
            "outcome": outcome.value,
        }
        session = next((policy.strip() for policy in agent.policy or () if policy), "")
        if session:
            fields["session"] = _bounded_session(session)
        if kind in (EventKind.RECORD_VIEW, EventKind.SEARCH):
            subject = self._subject(facts, place)
            if isinstance(subject, Rejected):
                return subject
            if subject is not None:
                fields["subject"] = subject
            read = kind is EventKind.RECORD_VIEW
            if read and subject is None and outcome is Outcome.SUCCESS:
                return Skipped(place.source, place.line, "a read naming no patient by INS")
            mapping = self._mapping
            fields["lookup"] = (mapping.read_lookup if read else mapping.search_lookup).value
            if outcome is Outcome.SUCCESS:
                categories = mapping.read_categories if read else mapping.search_categories
                fields["categories"] = [category.value for category in categories]
        try:
            return msgspec.convert(fields, Event)
        except msgspec.ValidationError as error:
            return place.reject(f"not a valid event: {error}", "")

    def _subject(self, facts: _Facts, place: _Place) -> str | Rejected | None:
        for index, entity in enumerate(facts.entities):
            identifier = entity.what.identifier if entity.what is not None else None
            if identifier is None or identifier.system not in self._mapping.patient_systems:
                continue
            path = f".entity[{index}].what.identifier.value"
            value = (identifier.value or "").strip()
            if is_pseudonym(value):
                return value
            if self._pseudonymizer is None:
                return place.reject("a clear NIR, and no pseudonymisation key to replace it", path)
            try:
                return self._pseudonymizer.pseudonym(value)
            except NirError as error:
                return place.reject(str(error), path)
        return None


def register(registry: ParserRegistry) -> None:
    """Register the ``fhir`` format (`FhirAuditParser`; ``config``: a `FhirMapping`)."""
    registry.register(
        "fhir",
        "HL7 FHIR AuditEvent (R4, R5), NDJSON or Bundle",
        FhirAuditParser.from_options,
    )


@dataclass(slots=True)
class _Document:
    """A JSON document spanning lines, being buffered until its brackets close."""

    first: LogLine
    lines: list[str]
    numbers: list[int]
    depth: int
    size: int = 0
    overflowed: bool = False


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a resource sits: line, JSON path within the record, and the value for the raw text."""

    source: str
    line: int
    path: str
    raw: Any = field(repr=False)

    def reject(self, message: str, suffix: str | None) -> Rejected:
        """A reject at this place; ``suffix`` extends the path (``None``: not JSON at all)."""
        raw = self.raw if isinstance(self.raw, str) else json.dumps(self.raw, ensure_ascii=False)
        where = None if suffix is None else self.path + suffix
        return reject(LogLine(self.source, self.line, raw[:RAW_LIMIT]), message, where)


class _Identifier(Protocol):
    @property
    def system(self) -> str | None: ...
    @property
    def value(self) -> str | None: ...


class _Reference(Protocol):
    @property
    def identifier(self) -> _Identifier | None: ...


class _Agent(Protocol):
    @property
    def who(self) -> _Reference | None: ...
    @property
    def requestor(self) -> bool | None: ...
    @property
    def policy(self) -> Sequence[str | None] | None: ...


class _Entity(Protocol):
    @property
    def what(self) -> _Reference | None: ...


class _Coding(Protocol):
    @property
    def system(self) -> str | None: ...
    @property
    def code(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the mapping needs of a validated AuditEvent, the same for both releases."""

    resource_id: str | None
    codes: frozenset[tuple[str | None, str | None]]
    action: str | None
    recorded: datetime | None
    outcome: tuple[str | None, str | None] | None
    outcome_path: str
    agents: Sequence[_Agent]
    addresses: Sequence[str | None]
    address_element: str
    entities: Sequence[_Entity]


def _codes(codings: Iterable[_Coding]) -> frozenset[tuple[str | None, str | None]]:
    return frozenset((coding.system, coding.code) for coding in codings)


def _r4_facts(resource: dict[str, Any]) -> _Facts:
    model = R4AuditEvent.model_validate(resource)
    return _Facts(
        resource_id=model.id,
        codes=_codes([_required(model.type, ".type"), *(model.subtype or ())]),
        action=model.action,
        recorded=model.recorded,
        outcome=None if model.outcome is None else (None, model.outcome),
        outcome_path=".outcome",
        agents=model.agent,
        addresses=[
            agent.network.address if agent.network is not None else None for agent in model.agent
        ],
        address_element="network.address",
        entities=model.entity or (),
    )


def _r5_facts(resource: dict[str, Any]) -> _Facts:
    model = R5AuditEvent.model_validate(resource)
    categories = [coding for concept in model.category or () for coding in concept.coding or ()]
    outcome = model.outcome
    return _Facts(
        resource_id=model.id,
        codes=_codes([*(_required(model.code, ".code").coding or ()), *categories]),
        action=model.action,
        recorded=model.recorded,
        outcome=None if outcome is None else _coded(_required(outcome.code, ".outcome.code")),
        outcome_path=".outcome.code",
        agents=model.agent,
        addresses=[agent.networkString for agent in model.agent],
        address_element="networkString",
        entities=model.entity or (),
    )


class _NullElement(Exception):  # noqa: N818 (internal control flow, caught in _resource)
    """A required element given as JSON null, which the models let through."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.path = path


def _required(value: _T | None, path: str) -> _T:
    if value is None:
        raise _NullElement(path)
    return value


def _coded(coding: _Coding) -> tuple[str | None, str | None]:
    return coding.system, coding.code


def _kind(facts: _Facts, mapping: FhirMapping) -> EventKind | str:
    """The event kind, or why the AuditEvent is skipped."""
    dicom = {code for system, code in facts.codes if system in _DCM}
    if _LOGIN in dicom:
        return EventKind.LOGIN_SUCCESS
    if _LOGOUT in dicom:
        return EventKind.LOGOUT
    interactions = {code for system, code in facts.codes if system == _RESTFUL_INTERACTION}
    if interactions & mapping.search_interactions:
        if facts.action in (None, "E", "R"):
            return EventKind.SEARCH
        return "a search whose action is neither E nor R"
    if interactions & mapping.read_interactions:
        if facts.action in (None, "R"):
            return EventKind.RECORD_VIEW
        return "a read whose action is not R"
    return "an AuditEvent that is not a login, logout, read or search"


def _outcome(facts: _Facts) -> Outcome | None:
    """The outcome, success when absent, ``None`` for a code that is not an audit-event-outcome."""
    if facts.outcome is None:
        return Outcome.SUCCESS
    system, code = facts.outcome
    return _OUTCOMES.get(code or "") if system in _OUTCOME_SYSTEMS else None


def _event_id(facts: _Facts, resource: dict[str, Any], ids: LineIds) -> str:
    if facts.resource_id:
        if len(facts.resource_id) <= _ID_LIMIT and not holds_nir(facts.resource_id):
            return f"fhir_{facts.resource_id}"
        digest = hashlib.blake2b(facts.resource_id.encode(), digest_size=16).hexdigest()
        return f"fhir_{digest}"
    canonical = json.dumps(resource, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    moment = facts.recorded.isoformat() if facts.recorded else ""
    return ids.next(moment, canonical)


def _bounded_session(session: str) -> str:
    """The session identifier, or a digest of it when too long or holding a clear NIR."""
    if len(session) <= _SESSION_LIMIT and not holds_nir(session):
        return session
    return "policy_" + hashlib.blake2b(session.encode(), digest_size=16).hexdigest()


def _first_error(error: ValidationError) -> tuple[str, str]:
    """The JSON path suffix of the first failing element and what is wrong, echoing no value."""
    first = error.errors(include_url=False, include_context=False, include_input=False)[0]
    path = ""
    for part in first["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part == "resource_type":
            path += ".resourceType"
        elif part != "root" and _ELEMENT.fullmatch(part):
            path += f".{part}"
    return path, _ERROR_WORDS.get(first["type"], f"invalid value ({first['type']})")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER: Final = json.JSONDecoder(parse_constant=_refuse_constant)


def _decode_line(text: str) -> Any:
    return _DECODER.decode(text)


def _json_error(error: ValueError | RecursionError) -> str:
    if isinstance(error, RecursionError):
        return "nested too deep"
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} (column {error.colno})"
    return str(error)


def _depth(text: str) -> int:
    """How many brackets ``text`` opens and leaves open, outside its strings."""
    opened = text.count("{") + text.count("[")
    closed = text.count("}") + text.count("]")
    if (opened or closed) and '"' in text:  # most lines of a pretty document have no bracket
        bare = _STRING.sub("", text)
        opened = bare.count("{") + bare.count("[")
        closed = bare.count("}") + bare.count("]")
    return opened - closed


def _size(text: str) -> int:
    """Bytes of ``text`` in UTF-8 (``isascii`` is a flag lookup, encoding a copy)."""
    return len(text) if text.isascii() else len(text.encode())


def _opens_document(text: str) -> bool:
    return text.lstrip()[:1] in ("{", "[") and _depth(text) > 0


def _standalone(text: str) -> dict[str, Any] | None:
    """The resource a line holds whole at its first column, as an NDJSON line does.

    Met inside a document spanning lines, it means that document was cut short:
    a pretty-printed document indents what it nests, and a Bundle's entries
    start with ``fullUrl`` or ``resource``, not ``resourceType``.
    """
    if not text.startswith("{"):
        return None
    try:
        value = _decode_line(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) and "resourceType" in value else None


def _unclosed(document: _Document) -> Rejected:
    first = document.first
    raw = "\n".join(document.lines)[:RAW_LIMIT]
    return reject(LogLine(first.source, first.line, raw), "JSON document not closed")


def _skip_space(text: str, position: int) -> int:
    match = _SPACE.match(text, position)
    return match.end() if match else position


def _decode_document(text: str) -> tuple[Any, list[int]]:
    """The JSON value of ``text`` and, for an object, where each element of its ``entry`` starts.

    The standard library's scanner decodes each member; only the top-level
    object is walked here, to learn the offsets of the Bundle's entries.
    """
    position = _skip_space(text, 0)
    if not text.startswith("{", position):
        value, end = _DECODER.raw_decode(text, position)
        _expect_end(text, end)
        return value, []
    result: dict[str, Any] = {}
    offsets: list[int] = []
    position = _skip_space(text, position + 1)
    if text.startswith("}", position):
        _expect_end(text, position + 1)
        return result, offsets
    while True:
        if not text.startswith('"', position):
            raise json.JSONDecodeError("Expecting property name", text, position)
        key, position = _DECODER.raw_decode(text, position)  # a string: it starts with '"'
        position = _skip_space(text, position)
        if not text.startswith(":", position):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, position)
        position = _skip_space(text, position + 1)
        if key == "entry" and text.startswith("[", position):
            result[key], offsets, position = _decode_array(text, position)
        else:
            result[key], position = _DECODER.raw_decode(text, position)
            if key == "entry":
                offsets = []
        position = _skip_space(text, position)
        if text.startswith(",", position):
            position = _skip_space(text, position + 1)
        elif text.startswith("}", position):
            _expect_end(text, position + 1)
            return result, offsets
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, position)


def _decode_array(text: str, position: int) -> tuple[list[Any], list[int], int]:
    """The array starting at ``position``, where each element starts, and where it ends."""
    values: list[Any] = []
    offsets: list[int] = []
    position = _skip_space(text, position + 1)
    if text.startswith("]", position):
        return values, offsets, position + 1
    while True:
        offsets.append(position)
        value, position = _DECODER.raw_decode(text, position)
        values.append(value)
        position = _skip_space(text, position)
        if text.startswith(",", position):
            position = _skip_space(text, position + 1)
        elif text.startswith("]", position):
            return values, offsets, position + 1
        else:
            raise json.JSONDecodeError("Expecting ',' delimiter", text, position)


def _expect_end(text: str, position: int) -> None:
    end = _skip_space(text, position)
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
