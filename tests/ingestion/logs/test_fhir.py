"""FHIR AuditEvent logs (R4, R5; NDJSON and Bundles): mapping, located rejects, fuzzing."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rempart.errors import ConfigError
from rempart.events import DataCategory, Event, EventKind, Lookup, Outcome
from rempart.ingestion.logs.base import (
    LogLine,
    ParsedLine,
    ParserOptions,
    ParserRegistry,
    Skipped,
    iter_log_lines,
)
from rempart.ingestion.logs.fhir import (
    INS_NIR_SYSTEM,
    FhirAuditParser,
    FhirMapping,
    register,
)
from rempart.ingestion.rejected import Rejected
from rempart.nir import make_nir
from rempart.pseudonym import Pseudonymizer
from rempart.secret import Secret

SAMPLES = Path(__file__).parent / "samples" / "fhir"
PSEUDONYMIZER = Pseudonymizer(Secret(b"0123456789abcdef"))
# The clear NIRs written in the samples, each checked against make_nir in a test below.
NIR_A = make_nir(1, 1984, 5, "75056", 123)
NIR_B = make_nir(2, 1953, 7, "2B073", 4)
NIR_C = make_nir(1, 1990, 11, "69123", 57)
NIR_D = make_nir(2, 1971, 2, "13055", 812)
CLEAR_NIRS = (NIR_A, NIR_B, NIR_C, NIR_D)
DCM = "http://dicom.nema.org/resources/ontology/DCM"
REST = "http://hl7.org/fhir/restful-interaction"


def _parser(**options: Any) -> FhirAuditParser:
    return FhirAuditParser(PSEUDONYMIZER, **options)


def _parse_file(name: str, parser: FhirAuditParser | None = None) -> list[ParsedLine]:
    unreadable: list[Rejected] = []
    results = list((parser or _parser()).parse(iter_log_lines(SAMPLES / name, unreadable)))
    assert unreadable == []
    return results


def _parse_texts(texts: Iterable[str], parser: FhirAuditParser | None = None) -> list[ParsedLine]:
    lines = [LogLine("audit.ndjson", number, text) for number, text in enumerate(texts, 1)]
    return list((parser or _parser()).parse(lines))


def _sample(name: str, resource_id: str) -> dict[str, Any]:
    for text in (SAMPLES / name).read_text().splitlines():
        resource: dict[str, Any] = json.loads(text)
        if resource["id"] == resource_id:
            return resource
    raise LookupError(resource_id)


def _one(resource: dict[str, Any], parser: FhirAuditParser | None = None) -> ParsedLine:
    [result] = _parse_texts([json.dumps(resource)], parser)
    return result


def _rejected(result: ParsedLine) -> Rejected:
    assert isinstance(result, Rejected), result
    return result


def _event(result: ParsedLine) -> Event:
    assert isinstance(result, Event), result
    return result


def _entry_starts(lines: list[str]) -> list[int]:
    """The 1-based lines where the entries of a Bundle written by ``json.dumps(indent=2)`` start."""
    first = lines.index('  "entry": [')
    return [number for number, text in enumerate(lines, 1) if number > first and text == "    {"]


def _leaks(results: Iterable[ParsedLine]) -> list[str]:
    """Every clear NIR found in an event or in a reject's location and message."""
    found = []
    for result in results:
        if isinstance(result, Event):
            text = json.dumps(result.to_dict(), default=str)
        elif isinstance(result, Rejected):
            text = f"{result.field} {result.message} {result!r}"
        else:
            text = result.reason
        compact = text.replace(" ", "")
        found += [nir for nir in CLEAR_NIRS if nir in text or nir in compact]
    return found


def test_sample_nirs_are_valid() -> None:
    """The NIRs written in the samples are the valid ones make_nir builds."""
    text = "".join(path.read_text() for path in SAMPLES.iterdir())
    for nir in (NIR_A, NIR_B, NIR_C):
        assert nir in text
    assert PSEUDONYMIZER.pseudonym(NIR_D) in text


@pytest.mark.parametrize("name", ["r4-examples.ndjson", "r5-examples.ndjson"])
def test_hl7_examples_map_to_events(name: str) -> None:
    """The HL7 example-login, -logout, -rest and -search map to a login, logout, read, search."""
    results = _parse_file(name)
    by_id = {result.event_id: result for result in results if isinstance(result, Event)}
    login, logout = by_id["fhir_example-login"], by_id["fhir_example-logout"]
    assert (login.kind, login.account, login.ip) == (EventKind.LOGIN_SUCCESS, "95", "127.0.0.1")
    assert login.time == datetime(2013, 6, 20, 23, 41, 23, tzinfo=UTC)
    assert (logout.kind, logout.outcome) == (EventKind.LOGOUT, Outcome.SUCCESS)
    read = by_id["fhir_example-rest"]
    assert read.kind is EventKind.RECORD_VIEW
    assert read.subject == PSEUDONYMIZER.pseudonym(NIR_A)
    assert (read.lookup, read.categories) == (Lookup.TYPED_NIR, FhirMapping().read_categories)
    search = by_id["fhir_example-search"]
    assert (search.kind, search.lookup, search.subject) == (EventKind.SEARCH, Lookup.SEARCH, None)
    assert search.ip == "127.0.0.1"  # the requestor's, not the source agent's host name


def test_r4_portal_resources() -> None:
    """R4: times go to UTC, the BALP policy is the session, failures and creates are told apart."""
    results = _parse_file("r4-examples.ndjson")
    assert [type(result).__name__ for result in results] == [
        *["Event"] * 6,
        "Skipped",
        "Event",
    ]
    read, failed, skipped, pseudonymised = results[4], results[5], results[6], results[7]
    assert isinstance(read, Event)
    assert read.time == datetime(2024, 3, 1, 9, 15, 0, 250_000, tzinfo=UTC)
    assert read.session == "urn:uuid:5b0e5f4e-2c1d-4a8b-9f8e-3c6d7a1b2c3d"
    assert (read.account, read.ip) == ("810002909371", "90.12.34.56")
    assert read.subject == PSEUDONYMIZER.pseudonym(NIR_B)
    assert isinstance(failed, Event)
    assert (failed.kind, failed.outcome, failed.session) == (
        EventKind.LOGIN_FAILURE,
        Outcome.FAILURE,
        None,
    )
    assert isinstance(skipped, Skipped)
    assert (skipped.line, skipped.reason) == (
        7,
        "an AuditEvent that is not a login, logout, read or search",
    )
    assert isinstance(pseudonymised, Event)
    assert pseudonymised.subject == PSEUDONYMIZER.pseudonym(NIR_D)


def test_r5_portal_resources() -> None:
    """R5: an INS-NIA patient, an IPv6 networkString, a search and a failed read without patient."""
    results = _parse_file("r5-examples.ndjson")
    assert all(isinstance(result, Event) for result in results)
    read, search, failed = results[4], results[5], results[6]
    assert isinstance(read, Event)
    assert isinstance(search, Event)
    assert isinstance(failed, Event)
    assert read.time == datetime(2024, 7, 14, 6, 5, tzinfo=UTC)
    assert read.ip == "2a01:cb00:1234:5600::42"
    assert read.subject == PSEUDONYMIZER.pseudonym(NIR_C)
    assert (search.kind, search.lookup, search.categories) == (EventKind.SEARCH, Lookup.SEARCH, ())
    assert (failed.kind, failed.outcome, failed.subject, failed.categories) == (
        EventKind.RECORD_VIEW,
        Outcome.FAILURE,
        None,
        (),
    )


@pytest.mark.parametrize("release", ["r4", "r5"])
def test_pretty_bundle_equals_ndjson(release: str) -> None:
    """A pretty-printed searchset Bundle gives the same events as the NDJSON lines, in order."""
    from_bundle = _parse_file(f"{release}-bundle.json")
    events = [result for result in from_bundle if isinstance(result, Event)]
    assert events == _parse_file(f"{release}-examples.ndjson")[:5]
    skipped = from_bundle[-1]
    assert isinstance(skipped, Skipped)
    assert skipped.reason == "resource type OperationOutcome, not AuditEvent"
    lines = (SAMPLES / f"{release}-bundle.json").read_text().splitlines()
    assert skipped.line == _entry_starts(lines)[-1]


def test_compact_bundle_on_one_line() -> None:
    """A Bundle written on one line gives its entries' events, each located at that line."""
    bundle = json.loads((SAMPLES / "r5-bundle.json").read_text())
    results = _parse_texts([json.dumps(bundle)])
    assert len(results) == len(bundle["entry"])
    assert {result.line for result in results if not isinstance(result, Event)} == {1}


def test_bad_entry_located_at_its_line() -> None:
    """A bad entry of a pretty Bundle is rejected at the line where the entry starts."""
    text = (SAMPLES / "r4-bundle.json").read_text()
    text = text.replace('"recorded": "2013-06-20T23:46:41Z"', '"recorded": "yesterday"')
    lines = text.splitlines()
    results = _parse_texts(lines)
    rejected = _rejected(results[1])
    assert rejected.line == _entry_starts(lines)[1]
    assert rejected.field == "$.entry[1].resource.recorded"
    assert "yesterday" not in rejected.message
    assert isinstance(results[0], Event)
    assert isinstance(results[2], Event)


def test_entry_without_resource_rejected() -> None:
    """A Bundle entry that is not an object or has no resource is a located reject."""
    bundle = {"resourceType": "Bundle", "entry": [{"fullUrl": "x"}, 3]}
    results = _parse_texts([json.dumps(bundle)])
    assert [_rejected(result).field for result in results] == [
        "$.entry[0].resource",
        "$.entry[1]",
    ]


def test_broken_document_rejected_at_first_line() -> None:
    """A pretty document that is not JSON is one reject at its first line, naming the bad line."""
    lines = ["{", '  "resourceType": "Bundle",', '  "entry": [', '    {"resource": }', "  ]", "}"]
    results = _parse_texts([json.dumps({"resourceType": "Patient"}), *lines])
    assert isinstance(results[0], Skipped)
    rejected = _rejected(results[1])
    assert (rejected.line, rejected.field) == (2, None)
    assert "at line 5" in rejected.message


def test_unclosed_document_rejected_and_following_line_read() -> None:
    """A document cut short is rejected at its first line; a whole resource after it is read."""
    login = json.dumps(_sample("r4-examples.ndjson", "example-login"))
    results = _parse_texts(['{"resourceType": "Bundle",', '  "entry": [', login, "  ]"])
    rejected = _rejected(results[0])
    assert (rejected.line, rejected.message) == (1, "JSON document not closed")
    assert _event(results[1]).event_id == "fhir_example-login"
    rejected = _rejected(results[2])
    assert (rejected.line, rejected.field) == (4, None)


def test_unclosed_at_end_of_input_and_at_new_file() -> None:
    """A document still open at the end of the input, or when the next file starts, is rejected."""
    lines = [
        LogLine("a.json", 1, "{"),
        LogLine("a.json", 2, '  "resourceType": "Bundle",'),
        LogLine("b.json", 1, "{"),
    ]
    results = list(_parser().parse(lines))
    assert [(r.source, r.line) for r in results if isinstance(r, Rejected)] == [
        ("a.json", 1),
        ("b.json", 1),
    ]


def test_document_over_limit_rejected_once() -> None:
    """A document past the byte bound is one reject at its first line; reading resumes after it."""
    text = (SAMPLES / "r4-bundle.json").read_text()
    login = json.dumps(_sample("r4-examples.ndjson", "example-login"))
    results = _parse_texts([*text.splitlines(), login], _parser(document_limit=2000))
    assert len(results) == 2
    rejected = _rejected(results[0])
    assert (rejected.line, rejected.message) == (1, "JSON document longer than 2000 bytes")
    assert _event(results[1]).event_id == "fhir_example-login"


def test_single_pretty_resource() -> None:
    """A single AuditEvent pretty-printed across lines is read, located at its first line."""
    resource = _sample("r5-examples.ndjson", "portal-read-1")
    lines = ["", *json.dumps(resource, indent=2).splitlines()]
    results = _parse_texts([line for line in lines if line])
    assert _event(results[0]).event_id == "fhir_portal-read-1"


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("not json", None),
        ('{"resourceType": "AuditEvent"', None),
        ("[1, 2]", "$"),
        ('{"a": NaN}', None),
        ('{"id": "x"}', "$.resourceType"),
        ('{"resourceType": "not a type"}', "$.resourceType"),
        ('{"resourceType": "AuditEvent", "id": "x"}', "$.type"),
    ],
)
def test_malformed_lines_rejected(text: str, field: str | None) -> None:
    """Lines that are not a FHIR resource are rejected, located, with the path where known."""
    [result] = _parse_texts([text])
    assert _rejected(result).field == field


def test_both_releases_at_once_rejected() -> None:
    """A resource with both R4 type and R5 code is rejected rather than guessed."""
    resource = _sample("r5-examples.ndjson", "example-login") | {"type": {"code": "x"}}
    rejected = _rejected(_one(resource))
    assert (rejected.field, rejected.message) == (
        "$.code",
        "an AuditEvent has either code (R5) or type (R4)",
    )


def test_model_failure_names_path_without_value() -> None:
    """A resource failing the fhir.resources model names the first failing path, not its value."""
    resource = _sample("r4-examples.ndjson", "portal-read-1")
    resource["agent"][0]["requestor"] = NIR_B
    rejected = _rejected(_one(resource))
    assert rejected.field == "$.agent[0].requestor"
    assert rejected.message == "not a valid R4 AuditEvent: expected true or false"
    resource = _sample("r5-examples.ndjson", "portal-read-1")
    resource["agent"][0]["network"] = {"address": "127.0.0.1"}  # R4's element, not R5's
    rejected = _rejected(_one(resource))
    assert rejected.field == "$.agent[0].network"
    assert "R5" in rejected.message


@pytest.mark.parametrize(
    ("release", "path", "field"),
    [
        ("r4", ("type",), "$.type"),
        ("r5", ("code",), "$.code"),
        ("r5", ("outcome", "code"), "$.outcome.code"),
        ("r5", ("agent", 0, "who"), "$.agent[0].who.identifier"),
        ("r4", ("agent", 0, "network"), "$.agent[0].network.address"),
    ],
)
def test_null_required_elements_rejected(release: str, path: tuple[Any, ...], field: str) -> None:
    """A required element given as JSON null, which the models let through, is a located reject."""
    resource = _sample(f"{release}-examples.ndjson", "portal-read-1")
    parent: Any = resource
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = None
    assert _rejected(_one(resource)).field == field


def test_clear_nir_never_written() -> None:
    """No clear NIR appears in an event, a reject's field or message, or a skip reason."""
    results = [
        result for name in sorted(p.name for p in SAMPLES.iterdir()) for result in _parse_file(name)
    ]
    bad = _sample("r4-examples.ndjson", "portal-read-1")
    bad["entity"][0]["what"]["identifier"]["value"] = NIR_B[:-2] + "00"
    results.append(_one(bad))
    bad["recorded"] = NIR_A
    results.append(_one(bad))
    bad = _sample("r4-examples.ndjson", "portal-read-1")
    bad["agent"][0]["network"]["address"] = NIR_C
    results.append(_one(bad))
    assert sum(isinstance(result, Event) for result in results) > 20
    assert _leaks(results) == []


def test_nir_outside_the_subject_not_stored() -> None:
    """A NIR as account is a reject; as resource id or policy it is replaced by a digest."""
    resource = _sample("r4-examples.ndjson", "portal-read-1")
    resource["agent"][0]["who"]["identifier"]["value"] = NIR_A
    rejected = _rejected(_one(resource))
    assert (rejected.field, rejected.message) == (
        "$.agent[0].who.identifier.value",
        "account holds a clear NIR",
    )
    resource = _sample("r4-examples.ndjson", "portal-read-1")
    resource["id"] = NIR_B
    resource["agent"][0]["policy"] = [f"urn:nir:{NIR_C[:2]} {NIR_C[2:]}"]
    event = _event(_one(resource))
    assert event.event_id.startswith("fhir_")
    assert event.session is not None
    assert event.session.startswith("policy_")
    assert _leaks([event]) == []


def test_invalid_nir_rejected_at_identifier() -> None:
    """A patient identifier that is not a valid NIR is rejected at its path, the number redacted."""
    resource = _sample("r5-examples.ndjson", "portal-read-1")
    resource["entity"][0]["what"]["identifier"]["value"] = NIR_C[:-2] + "00"
    rejected = _rejected(_one(resource))
    assert rejected.field == "$.entity[0].what.identifier.value"
    assert rejected.message == "invalid NIR (InvalidChecksum)"


def test_without_key_clear_nir_rejected_pseudonym_kept() -> None:
    """Without a pseudonymiser a clear NIR is a reject; an identifier already a pseudonym passes."""
    parser = FhirAuditParser()
    rejected = _rejected(_one(_sample("r4-examples.ndjson", "portal-read-1"), parser))
    assert rejected.field == "$.entity[0].what.identifier.value"
    event = _event(_one(_sample("r4-examples.ndjson", "portal-read-2"), parser))
    assert event.subject == PSEUDONYMIZER.pseudonym(NIR_D)


@pytest.mark.parametrize(
    ("release", "change", "field"),
    [
        ("r4", {"network": None}, "$.agent[0].network.address"),
        (
            "r4",
            {"network": {"address": "ws1.clinic.example", "type": "1"}},
            "$.agent[0].network.address",
        ),
        ("r5", {"networkString": None}, "$.agent[0].networkString"),
        ("r5", {"networkString": "300.1.2.3"}, "$.agent[0].networkString"),
        ("r4", {"requestor": False}, "$.agent"),
        ("r4", {"who": {"reference": "Practitioner/1"}}, "$.agent[0].who.identifier"),
        ("r5", {"who": {"identifier": {"value": "x" * 129}}}, "$.agent[0].who.identifier.value"),
    ],
)
def test_requestor_required(release: str, change: dict[str, Any], field: str) -> None:
    """The requestor agent, its identifier and its IP address are required, each located."""
    resource = _sample(f"{release}-examples.ndjson", "portal-read-1")
    agent = resource["agent"][0]
    for key, value in change.items():
        if value is None:
            agent.pop(key)
        else:
            agent[key] = value
    assert _rejected(_one(resource)).field == field


@pytest.mark.parametrize(
    ("code", "kind", "outcome"),
    [
        ("0", EventKind.LOGIN_SUCCESS, Outcome.SUCCESS),
        ("4", EventKind.LOGIN_FAILURE, Outcome.FAILURE),
        ("8", EventKind.LOGIN_FAILURE, Outcome.FAILURE),
        ("12", EventKind.LOGIN_FAILURE, Outcome.FAILURE),
        (None, EventKind.LOGIN_SUCCESS, Outcome.SUCCESS),
    ],
)
@pytest.mark.parametrize("release", ["r4", "r5"])
def test_login_outcomes(release: str, code: str | None, kind: EventKind, outcome: Outcome) -> None:
    """A login's outcome code 0 is a success, 4, 8 and 12 a failure; absent counts as success."""
    resource = _sample(f"{release}-examples.ndjson", "example-login")
    if code is None:
        resource.pop("outcome")
    elif release == "r4":
        resource["outcome"] = code
    else:
        resource["outcome"]["code"]["code"] = code
    event = _event(_one(resource))
    assert (event.kind, event.outcome) == (kind, outcome)


def test_unknown_outcome_rejected() -> None:
    """An outcome outside 0, 4, 8, 12 (or from another code system) is rejected at its path."""
    resource = _sample("r4-examples.ndjson", "example-login") | {"outcome": "7"}
    assert _rejected(_one(resource)).field == "$.outcome"
    resource = _sample("r5-examples.ndjson", "example-login")
    resource["outcome"]["code"]["system"] = "http://hl7.org/fhir/issue-severity"
    assert _rejected(_one(resource)).field == "$.outcome.code"


def test_other_actions_and_resources_skipped() -> None:
    """Creates, other resource types and successful reads of no patient are skipped, with why."""
    resource = _sample("r5-examples.ndjson", "portal-read-1")
    resource["code"]["coding"][0]["code"] = "update"
    assert isinstance(_one(resource), Skipped)
    resource = _sample("r5-examples.ndjson", "portal-read-1")
    resource["action"] = "D"
    skipped = _one(resource)
    assert isinstance(skipped, Skipped)
    assert skipped.reason == "a read whose action is not R"
    resource = _sample("r5-examples.ndjson", "portal-read-1")
    resource["entity"][0]["what"] = {"reference": "Practitioner/42"}
    skipped = _one(resource)
    assert isinstance(skipped, Skipped)
    assert skipped.reason == "a read naming no patient by INS"
    skipped = _one({"resourceType": "Patient", "id": "p"})
    assert isinstance(skipped, Skipped)
    assert "Patient" in skipped.reason
    [skipped] = _parse_texts(['{"resourceType": "Bundle", "entry": []}'])
    assert isinstance(skipped, Skipped)


def test_event_id_without_resource_id() -> None:
    """Without an id, the identifier is a digest: stable across runs, distinct for twins."""
    resource = _sample("r4-examples.ndjson", "example-login")
    del resource["id"]
    text = json.dumps(resource)
    first = [_event(result).event_id for result in _parse_texts([text, text])]
    again = [_event(result).event_id for result in _parse_texts([text, text])]
    assert first == again
    assert first[0] != first[1]
    assert first[0].startswith("lg_")


def test_long_identifiers_bounded() -> None:
    """A resource id or a policy longer than an event allows is replaced by a digest."""
    resource = _sample("r4-examples.ndjson", "portal-read-1")
    resource["id"] = "a" * 200
    resource["agent"][0]["policy"] = ["urn:token:" + "b" * 300]
    event = _event(_one(resource))
    assert len(event.event_id) <= 128
    assert event.event_id.startswith("fhir_")
    assert event.session is not None
    assert len(event.session) <= 128
    assert Event.from_dict(event.to_dict()) == event


def test_mapping_configures_categories_lookup_and_systems() -> None:
    """A FhirMapping sets the read categories, the look-up and which systems name a patient."""
    test_system = "urn:oid:1.2.250.1.213.1.4.10"
    mapping = FhirMapping(
        read_categories=(DataCategory.IDENTITY, DataCategory.CARE),
        read_lookup=Lookup.CARD,
        patient_systems=frozenset({INS_NIR_SYSTEM, test_system}),
    )
    resource = _sample("r4-examples.ndjson", "portal-read-1")
    resource["entity"][0]["what"]["identifier"]["system"] = test_system
    event = _event(_one(resource, _parser(mapping=mapping)))
    assert (event.categories, event.lookup) == (
        (DataCategory.IDENTITY, DataCategory.CARE),
        Lookup.CARD,
    )
    assert isinstance(_one(resource), Skipped)  # the default mapping does not read test NIRs


def test_bad_mapping_names_key() -> None:
    """An invalid FhirMapping value raises ConfigError naming the field."""
    with pytest.raises(ConfigError, match="read_categories"):
        FhirMapping(read_categories=("gossip",))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="patient_systems"):
        FhirMapping(patient_systems="urn:oid:1")  # type: ignore[arg-type]


def test_registered_by_name() -> None:
    """``register`` adds the ``fhir`` format; its config must be a FhirMapping or nothing."""
    registry = ParserRegistry()
    register(registry)
    parser = registry.create("fhir", ParserOptions(pseudonymizer=PSEUDONYMIZER))
    assert parser.name == "fhir"
    assert [type(r) for r in parser.parse([LogLine("x", 1, "{}")])] == [Rejected]
    with pytest.raises(ConfigError, match="config"):
        registry.create("fhir", ParserOptions(config={"read_lookup": "card"}))


# Property tests: the parser never raises, and whatever it makes is a valid event.

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
_SEEDS = [
    json.loads(text)
    for name in ("r4-examples.ndjson", "r5-examples.ndjson")
    for text in (SAMPLES / name).read_text().splitlines()
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def _mutated_resources(draw: st.DrawFn) -> dict[str, Any]:
    """A sample AuditEvent with a few of its elements replaced by arbitrary JSON."""
    resource: dict[str, Any] = copy.deepcopy(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(resource)[1:]))
        parent: Any = resource
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()):
            parent[path[-1]] = draw(_JSON)
        elif isinstance(parent, dict):
            parent.pop(path[-1])
    return resource


def _check(results: list[ParsedLine]) -> None:
    for result in results:
        assert isinstance(result, Event | Rejected | Skipped)
        if isinstance(result, Event):
            assert Event.from_dict(result.to_dict()) == result
            assert result.time.utcoffset() is not None
    assert _leaks(results) == []


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=60), max_size=8))
def test_arbitrary_lines_never_raise(texts: list[str]) -> None:
    """Any text lines give only events, rejects and skips, never an exception."""
    _check(_parse_texts(texts))


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(["{", "[", "}", "]", "  {", '  "a": [', '"}"', "{}", "x"]), max_size=12
    )
)
def test_bracket_soup_never_raises(texts: list[str]) -> None:
    """Lines that open and close documents in any order never raise."""
    _check(_parse_texts(texts, _parser(document_limit=40)))


@settings(max_examples=150, deadline=None)
@given(_JSON)
def test_arbitrary_json_never_raises(value: Any) -> None:
    """Any JSON value, on one line or pretty-printed, never raises."""
    _check(_parse_texts([json.dumps(value)]))
    _check(_parse_texts(json.dumps(value, indent=1).splitlines()))


@settings(max_examples=200, deadline=None)
@given(_mutated_resources(), st.booleans())
def test_mutated_audit_events_never_raise(resource: dict[str, Any], in_bundle: bool) -> None:
    """AuditEvents with elements replaced or removed give valid events or located rejects."""
    if in_bundle:
        document = {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"resource": resource}],
        }
        results = _parse_texts(json.dumps(document, indent=2).splitlines())
    else:
        results = _parse_texts([json.dumps(resource)])
    _check(results)
    assert len(results) == 1
