"""Access logs (nginx, Apache; combined and JSON) read by a route table into portal events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rempart.errors import ConfigError
from rempart.events import Event, Lookup, Outcome
from rempart.ingestion.logs import (
    LogLine,
    ParsedLine,
    ParserOptions,
    ParserRegistry,
    Skipped,
    iter_log_lines,
)
from rempart.ingestion.logs.access import AccessLogParser, register
from rempart.ingestion.logs.routes import RouteTable
from rempart.ingestion.rejected import Rejected
from rempart.pseudonym import Pseudonymizer
from rempart.secret import Secret
from rempart.testing import pseudonym_for

from .parser_contract import check

SAMPLES = Path(__file__).parent / "samples" / "access"
SHIPPED = Path(str(resources.files("rempart") / "data" / "routes-portal.toml"))
KEY = Pseudonymizer(Secret(b"access-log-test-key-0123456789"))
NIRS = ("253072B07300470", "180057505612342", "261112A00400736")
"""The valid NIRs written in clear in the samples."""
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


def _table(name: str) -> RouteTable:
    return RouteTable.from_toml(SHIPPED if name == "portal" else SAMPLES / f"{name}.toml")


def _sample(log: str, table: str, key: Pseudonymizer | None = KEY) -> list[ParsedLine]:
    """Every outcome of a sample file, the reader's rejects (invalid UTF-8) in line order."""
    rejected: list[Rejected] = []
    parser = AccessLogParser(_table(table), key)
    outcomes = list(parser.parse(iter_log_lines(SAMPLES / log, rejected, source=log)))
    return sorted([*outcomes, *rejected], key=_line_of)


def _line_of(outcome: ParsedLine) -> int:
    return 0 if isinstance(outcome, Event) else outcome.line


def _summary(outcome: ParsedLine) -> tuple[Any, ...]:
    if isinstance(outcome, Event):
        subject = outcome.subject is not None
        return ("event", outcome.kind.value, outcome.outcome.value, outcome.lookup, subject)
    if isinstance(outcome, Rejected):
        return ("rejected", outcome.line, outcome.field)
    return ("skipped", outcome.line, outcome.reason)


def _events(outcomes: list[ParsedLine]) -> list[Event]:
    return [outcome for outcome in outcomes if isinstance(outcome, Event)]


def _parse(
    table: RouteTable | dict[str, Any], *texts: str, key: Pseudonymizer | None = KEY
) -> list[ParsedLine]:
    routes = table if isinstance(table, RouteTable) else RouteTable.from_dict(table)
    lines = [LogLine("test.log", number, text) for number, text in enumerate(texts, 1)]
    return list(AccessLogParser(routes, key).parse(lines))


def _combined(
    request: str,
    status: int = 200,
    *,
    address: str = "90.12.34.56",
    stamp: str = "08/Mar/2022:10:00:01 +0100",
    agent: str = BROWSER,
    extras: str = '"k7Qm2vXa9LpR" "A000001" "-"',
) -> str:
    return f'{address} - - [{stamp}] "{request}" {status} 512 "-" "{agent}" {extras}'


NGINX = "nginx-combined"


# -- the samples --------------------------------------------------------------------------


def test_nginx_combined_sample() -> None:
    """nginx's combined log: events for portal actions, located rejects, skipped static files."""
    outcomes = _sample("nginx-combined.log", NGINX)
    events = [_summary(o) for o in outcomes if isinstance(o, Event)]
    others = [_summary(o) for o in outcomes if not isinstance(o, Event)]
    assert events == [
        ("event", "login_success", "success", None, False),
        ("event", "record_view", "success", Lookup.TYPED_NIR, True),
        ("event", "record_view", "success", Lookup.CARD, True),
        ("event", "record_view", "not_found", Lookup.TYPED_NIR, False),  # an invalid NIR
        ("event", "login_failure", "refused", None, False),
    ]
    assert others == [
        ("skipped", 4, "no route matches the request"),
        ("rejected", 6, None),  # truncated
        ("rejected", 7, "$.remote_addr"),  # 999.12.34.56
        ("rejected", 8, "$.time_local"),  # 32 March
        ("rejected", 9, None),  # invalid UTF-8, from the reader
        ("skipped", 10, "no route matches the request"),
    ]


def test_apache_combined_sample() -> None:
    """Apache's combined log: the account from %u, the session from the Cookie header."""
    outcomes = _sample("apache-combined.log", "apache-combined")
    events = _events(outcomes)
    assert [_summary(e) for e in events] == [
        ("event", "record_view", "success", Lookup.TYPED_NIR, True),  # NIR in the path
        ("event", "record_view", "success", Lookup.CARD, True),
        ("event", "search", "success", Lookup.SEARCH, False),
        ("event", "record_view", "not_found", Lookup.TYPED_NIR, False),
        ("event", "record_view", "refused", Lookup.CARD, False),
    ]
    assert {(e.account, e.session) for e in events[:4]} == {("A000002", "abc123")}
    assert events[2].result_count == 3
    assert events[0].user_agent == 'Mozilla/5.0 (X11; Linux x86_64) "Lynx" café'
    assert (events[4].ip, events[4].categories) == ("2001:db8::7", ())
    assert [_summary(o) for o in outcomes if not isinstance(o, Event)] == [
        ("skipped", 4, "no route matches the request"),
        ("rejected", 5, "$.remote_addr"),  # a host name, not an address
        ("rejected", 6, "$.time_local"),
        ("rejected", 7, None),
        ("rejected", 8, None),
    ]


def test_nginx_json_sample_with_the_shipped_portal_table() -> None:
    """nginx's JSON log of the reference portal, read by routes-portal.toml."""
    outcomes = _sample("nginx-json.log", "portal")
    assert [_summary(o) for o in outcomes if isinstance(o, Event)] == [
        ("event", "login_success", "success", None, False),
        ("event", "record_view", "success", Lookup.TYPED_NIR, True),
        ("event", "record_view", "not_found", Lookup.TYPED_NIR, True),  # valid NIR, no match
        ("event", "record_view", "success", Lookup.LINK, True),
        ("event", "mfa_success", "success", None, False),
    ]
    assert [_summary(o) for o in outcomes if not isinstance(o, Event)] == [
        ("skipped", 5, "no route matches the request"),
        ("rejected", 6, None),  # truncated JSON
        ("rejected", 7, "$.ip"),
        ("rejected", 8, "$.msec"),
        ("rejected", 9, None),  # invalid UTF-8
    ]


def test_a_sign_in_names_the_session_it_opened() -> None:
    """The session a sign-in set (Set-Cookie) wins over the request's; a deleted one does not."""
    events = _events(_sample("nginx-json.log", "portal"))
    assert events[0].session == "n3wS3ss10nXq"  # $upstream_cookie_portal_session
    assert events[1].session == "k7Qm2vXa9LpR"  # $cookie_portal_session
    assert events[-1].session == "k7Qm2vXa9LpR"  # set to "" on the way out: the request's


SAMPLE_RUNS = [
    ("nginx-combined.log", NGINX),
    ("apache-combined.log", "apache-combined"),
    ("nginx-json.log", "portal"),
]


@pytest.mark.parametrize(("log", "table"), SAMPLE_RUNS)
def test_a_clear_nir_is_only_ever_in_a_rejects_raw_text(log: str, table: str) -> None:
    """Events carry pseudonyms; no event, message, field or reason holds a clear NIR."""
    outcomes = _sample(log, table)
    for outcome in outcomes:
        check(outcome)
    written = json.dumps(
        [o.to_dict() for o in _events(outcomes)]
        + [[o.message, o.field] for o in outcomes if isinstance(o, Rejected)]
        + [o.reason for o in outcomes if isinstance(o, Skipped)],
        default=str,
    )
    assert not any(nir in written for nir in NIRS)
    raws = " ".join(o.raw for o in outcomes if isinstance(o, Rejected))
    assert any(nir in raws for nir in NIRS)  # the rejects file keeps the line, by design


def test_a_typed_nir_becomes_its_pseudonym_however_written() -> None:
    """A NIR in the query or in a percent-encoded path segment is replaced by its pseudonym."""
    nginx = _events(_sample("nginx-combined.log", NGINX))
    apache = _events(_sample("apache-combined.log", "apache-combined"))
    assert nginx[1].subject == KEY.pseudonym("253072B07300470")
    assert apache[0].subject == KEY.pseudonym("180057505612342")  # "1 80 05 75056 123 42"


def test_times_are_aware_utc() -> None:
    """$time_local in +0100 and -0700 and $msec all become the same instants in UTC."""
    nginx = _events(_sample("nginx-combined.log", NGINX))
    apache = _events(_sample("apache-combined.log", "apache-combined"))
    portal = _events(_sample("nginx-json.log", "portal"))
    assert nginx[0].time == datetime(2022, 3, 8, 9, 0, 1, tzinfo=UTC)
    assert apache[0].time == datetime(2022, 3, 8, 9, 0, 5, tzinfo=UTC)
    assert portal[0].time == datetime(2022, 3, 8, 9, 0, 1, 125_000, tzinfo=UTC)
    assert {e.time.utcoffset() for e in [*nginx, *apache, *portal]} == {timedelta(0)}


@pytest.mark.parametrize(
    ("time_format", "written", "expected"),
    [
        ("time_local", "10/Oct/2000:13:55:36 -0700", datetime(2000, 10, 10, 20, 55, 36)),
        ("time_iso8601", "2000-10-10T13:55:36-07:00", datetime(2000, 10, 10, 20, 55, 36)),
        ("time_iso8601", "2000-10-10T20:55:36Z", datetime(2000, 10, 10, 20, 55, 36)),
        ("msec", "971211336.042", datetime(2000, 10, 10, 20, 55, 36, 42_000)),
        ("msec", "971211336", datetime(2000, 10, 10, 20, 55, 36)),
        ("auto", "10/Oct/2000:22:55:36 +0200", datetime(2000, 10, 10, 20, 55, 36)),
        ("auto", "2000-10-10T20:55:36+00:00", datetime(2000, 10, 10, 20, 55, 36)),
        ("auto", "971211336.5", datetime(2000, 10, 10, 20, 55, 36, 500_000)),
    ],
)
def test_time_formats(time_format: str, written: str, expected: datetime) -> None:
    """Each declared time format, and auto-detection, reads the documented form."""
    (event,) = _parse(_logout_table(time_format), _logout_json(time=written))
    assert isinstance(event, Event)
    assert event.time == expected.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("time_format", "written"),
    [
        ("time_iso8601", "2000-10-10T13:55:36"),  # no offset: which zone?
        ("time_iso8601", "yesterday 253072B07300470"),
        ("time_local", "10/Foo/2000:13:55:36 -0700"),
        ("time_local", "10/Oct/2000:13:55:36 +2500"),
        ("msec", "-1.5"),
        ("auto", "0001-01-01T00:00:00+01:00"),  # before year 1 once in UTC
        ("auto", ""),
    ],
)
def test_unreadable_times_are_rejected_at_the_time_field(time_format: str, written: str) -> None:
    """A time that is not in the declared form, or has no offset, is a reject at its field."""
    (outcome,) = _parse(_logout_table(time_format), _logout_json(time=written))
    assert isinstance(outcome, Rejected)
    assert outcome.field == "$.time"
    assert "253072B07300470" not in outcome.message


def _logout_table(time_format: str = "auto", **changes: Any) -> dict[str, Any]:
    return {
        "log_format": "json",
        "time_format": time_format,
        "account": "field:account",
        "routes": [{"method": "POST", "path": "/logout", "kind": "logout"}],
        **changes,
    }


def _logout_json(**changes: Any) -> str:
    record = {
        "time": "2022-03-08T10:00:01+01:00",
        "ip": "90.12.34.56",
        "method": "POST",
        "uri": "/logout",
        "status": 200,
        "user_agent": BROWSER,
        "account": "A000001",
        **changes,
    }
    return json.dumps(record)


# -- event identifiers --------------------------------------------------------------------


def test_event_ids_are_deterministic_and_distinct() -> None:
    """The same lines give the same identifiers; two identical lines give two."""
    line = _combined(
        "GET /patients/by-card/c1 HTTP/1.1", extras=f'"s1" "A000001" "{pseudonym_for(1)}"'
    )
    first = _events(_parse(_table(NGINX), line, line))
    again = _events(_parse(_table(NGINX), line, line))
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert first[0].event_id != first[1].event_id
    samples = [e.event_id for log, table in SAMPLE_RUNS for e in _events(_sample(log, table))]
    assert len(set(samples)) == len(samples)


def test_an_event_id_depends_on_the_pseudonym_not_on_the_typed_nir() -> None:
    """The identifier hashes no clear NIR: the same NIR typed two ways gives the same one."""
    compact = _combined("GET /patients?nir=253072B07300470 HTTP/1.1")
    spaced = _combined("GET /patients?nir=2+53+07+2B+073+004+70 HTTP/1.1")
    other = _combined("GET /patients?nir=180057505612342 HTTP/1.1")
    ids = [_events(_parse(_table(NGINX), text))[0].event_id for text in (compact, spaced, other)]
    assert ids[0] == ids[1] != ids[2]


# -- patients, accounts, bounds -----------------------------------------------------------


def test_an_invalid_nir_is_a_miss_unless_the_read_was_refused() -> None:
    """An invalid NIR designates nobody: not_found without a subject, or refused if refused."""
    missed, refused = _events(
        _parse(
            _table(NGINX),
            _combined("GET /patients?nir=253072B07300471 HTTP/1.1", 200),
            _combined("GET /patients?nir=12345 HTTP/1.1", 403),
        )
    )
    assert (missed.outcome, missed.subject, missed.categories) == (Outcome.NOT_FOUND, None, ())
    assert (refused.outcome, refused.subject) == (Outcome.REFUSED, None)


def test_without_a_pseudonym_key_a_clear_nir_is_rejected() -> None:
    """A clear NIR cannot be stored: without a key to replace it, its line is a reject."""
    (outcome,) = _parse(
        _table(NGINX), _combined("GET /patients?nir=253072B07300470 HTTP/1.1"), key=None
    )
    assert isinstance(outcome, Rejected)
    assert (outcome.field, outcome.message) == (
        "$.request",
        "a clear NIR, and no pseudonym key to replace it",
    )


def test_a_successful_read_must_name_its_patient() -> None:
    """A record served with no subject logged is rejected at the subject's field."""
    (outcome,) = _parse(_table(NGINX), _combined("GET /patients/by-card/c1 HTTP/1.1"))
    assert isinstance(outcome, Rejected)
    assert (outcome.field, outcome.message) == (
        "$.subject",
        "a successful record view names no patient",
    )


def test_a_subject_field_must_hold_a_pseudonym() -> None:
    """A subject field holding anything but a pseudonym (a clear NIR) is rejected."""
    line = _combined("GET /patients/by-card/c1 HTTP/1.1", extras='"s1" "A000001" "253072B07300470"')
    (outcome,) = _parse(_table(NGINX), line)
    assert isinstance(outcome, Rejected)
    assert outcome.field == "$.subject"
    assert "253072B07300470" not in outcome.message


def test_an_action_without_an_account() -> None:
    """A refused sign-in without an account is skipped; data served to nobody is a reject."""
    refused, served = _parse(
        _table(NGINX),
        _combined("POST /login HTTP/1.1", 422, extras='"-" "-" "-"'),
        _combined("GET /patients/by-card/c1 HTTP/1.1", extras=f'"s1" "-" "{pseudonym_for(1)}"'),
    )
    assert isinstance(refused, Skipped)
    assert isinstance(served, Rejected)
    assert served.field == "$.account"


def test_identifiers_and_user_agents_are_bounded() -> None:
    """An account over 128 characters is rejected; a user agent is cut at 1,024."""
    too_long, long_agent = _parse(
        _table(NGINX),
        _combined("POST /login HTTP/1.1", extras=f'"-" "{"A" * 129}" "-"'),
        _combined("POST /login HTTP/1.1", agent="x" * 5000),
    )
    assert isinstance(too_long, Rejected)
    assert (too_long.field, too_long.message) == ("$.account", "longer than 128 characters")
    assert isinstance(long_agent, Event)
    assert long_agent.user_agent == "x" * 1024


def test_a_clear_nir_in_an_account_or_a_user_agent_is_kept_out() -> None:
    """An account holding a NIR is rejected; a NIR in a user agent is blanked."""
    account, agent = _parse(
        _table(NGINX),
        _combined("POST /login HTTP/1.1", extras='"-" "2 53 07 2B 073 004 70" "-"'),
        _combined("POST /login HTTP/1.1", agent="bot/1.0 (253.072.B07.300.470)"),
    )
    assert isinstance(account, Rejected)
    assert account.field == "$.account"
    assert isinstance(agent, Event)
    assert agent.user_agent == "bot/1.0 (<redacted>)"


def test_server_escapes_are_decoded() -> None:
    r"""nginx's \xHH and both servers' \" escapes are decoded in the user agent and the fields."""
    (event,) = _parse(
        _table(NGINX),
        _combined(
            "POST /login HTTP/1.1", agent=r"caf\xC3\xA9 \"bot\" \\o/", extras=r'"-" "A\x20B" "-"'
        ),
    )
    assert isinstance(event, Event)
    assert (event.user_agent, event.account) == ('café "bot" \\o/', "A B")


def test_the_address_is_the_peer_unless_a_field_is_declared() -> None:
    """By default the address is $remote_addr; a declared field gives its first address."""
    forwarded = _logout_json(ip="10.0.0.1", xff="203.0.113.9, 10.0.0.1")
    (peer,) = _events(_parse(_logout_table(), forwarded))
    (client,) = _events(_parse(_logout_table(ip="field:xff"), forwarded))
    assert (peer.ip, client.ip) == ("10.0.0.1", "203.0.113.9")
    (bad,) = _parse(_logout_table(ip="field:xff"), _logout_json(xff="unknown"))
    assert isinstance(bad, Rejected)
    assert bad.field == "$.xff"


def test_json_lines_are_checked_field_by_field() -> None:
    """A JSON line that is not an object, lacks a part or has a bad status is located."""
    outcomes = _parse(
        _logout_table(),
        "[1, 2]",
        _logout_json(method=None),
        _logout_json(status=700),
        _logout_json(status="2xx"),
        _logout_json(account=["A1"]),
        _logout_json(status="200"),
    )
    assert [(o.field if isinstance(o, Rejected) else "event") for o in outcomes] == [
        "$",
        "$.method",
        "$.status",
        "$.status",
        "$.account",
        "event",
    ]


def test_json_path_and_query_may_be_logged_apart() -> None:
    """A table may read $uri and $args separately; the query still designates the patient."""
    table = {
        "log_format": "json",
        "fields": {"path": "path", "query": "args"},
        "account": "field:account",
        "routes": [
            {
                "method": "GET",
                "path": "/patients",
                "kind": "record_view",
                "lookup": "typed_nir",
                "subject": "query:nir",
                "categories": ["identity"],
            }
        ],
    }
    line = _logout_json(method="GET", path="/patients", args="nir=253072B07300470")
    (event,) = _events(_parse(table, line))
    assert event.subject == KEY.pseudonym("253072B07300470")


def test_the_parser_registers_as_nginx_and_apache() -> None:
    """Both names build the parser from a route table; without one it is a ConfigError."""
    registry = ParserRegistry()
    register(registry)
    assert set(registry.describe()) == {"nginx", "apache"}
    options = ParserOptions(pseudonymizer=KEY, config=_table(NGINX))
    assert registry.create("apache", options).name == "apache"
    with pytest.raises(ConfigError, match="--routes FILE"):
        registry.create("nginx", ParserOptions())
    with pytest.raises(ConfigError, match="RouteTable"):
        registry.create("nginx", ParserOptions(config={"routes": []}))


# -- properties ---------------------------------------------------------------------------

TABLES = {name: _table(name) for name in (NGINX, "apache-combined", "portal")}


@settings(max_examples=300, deadline=None)
@given(
    table=st.sampled_from(sorted(TABLES)),
    texts=st.lists(st.text(max_size=300), min_size=1, max_size=5),
)
def test_parsing_never_raises_on_arbitrary_text(table: str, texts: list[str]) -> None:
    """Any text gives exactly one outcome a line, each keeping the parser contract."""
    outcomes = _parse(TABLES[table], *texts)
    assert len(outcomes) == len(texts)
    for outcome in outcomes:
        check(outcome)


@settings(max_examples=300, deadline=None)
@given(
    table=st.sampled_from(sorted(TABLES)),
    seed=st.sampled_from(
        [
            line
            for log, _ in SAMPLE_RUNS
            for line in (SAMPLES / log).read_bytes().decode("utf-8", "replace").splitlines()
        ]
    ),
    cut=st.integers(0, 400),
    inserted=st.text(max_size=40),
)
def test_parsing_never_raises_on_damaged_real_lines(
    table: str, seed: str, cut: int, inserted: str
) -> None:
    """A real line with text spliced in anywhere still gives one outcome keeping the contract."""
    (outcome,) = _parse(TABLES[table], seed[:cut] + inserted + seed[cut:])
    check(outcome)


ROUND_TRIP_ROUTES: list[dict[str, Any]] = [
    {"method": "POST", "path": "/login", "kind": "login", "success_status": [200, 303]},
    {"method": "POST", "path": "/logout", "kind": "logout"},
    {
        "method": "GET",
        "path": "/patients/by-card/{card}",
        "kind": "record_view",
        "lookup": "card",
        "subject": "field:subject",
        "categories": ["identity", "rights"],
    },
    {
        "method": "GET",
        "path": "/patients/by-link/{ref}",
        "kind": "record_view",
        "lookup": "link",
        "subject": "field:subject",
        "categories": ["identity"],
    },
    {"method": "GET", "path": "/patients/search", "kind": "search", "lookup": "search"},
]
ROUND_TRIP = {
    "combined": RouteTable.from_dict(
        {
            "extra_fields": ["account", "subject"],
            "account": "field:account",
            "routes": ROUND_TRIP_ROUTES,
        }
    ),
    "json": RouteTable.from_dict(
        {
            "log_format": "json",
            "fields": {"time": "msec"},
            "account": "field:account",
            "routes": ROUND_TRIP_ROUTES,
        }
    ),
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SEGMENTS = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_", min_size=1, max_size=20)
REQUESTS = st.one_of(
    st.tuples(st.just("POST"), st.sampled_from(["/login", "/logout"])),
    st.tuples(st.just("GET"), SEGMENTS.map(lambda card: f"/patients/by-card/{card}")),
    st.tuples(st.just("GET"), SEGMENTS.map(lambda ref: f"/patients/by-link/{ref}")),
    st.tuples(st.just("GET"), st.just("/patients/search")),
    st.tuples(st.sampled_from(["GET", "HEAD"]), SEGMENTS.map(lambda name: f"/static/{name}.css")),
)
TIMES = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2090, 1, 1),
    timezones=st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m))),
)
ADDRESSES = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)).map(str)


@settings(max_examples=300, deadline=None)
@given(
    request=REQUESTS,
    status=st.integers(100, 599),
    moment=TIMES,
    address=ADDRESSES,
    account=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=12),
    layout=st.sampled_from(["combined", "json"]),
)
def test_generated_requests_parse_back(
    request: tuple[str, str], status: int, moment: datetime, address: str, account: str, layout: str
) -> None:
    """A request written as nginx logs it parses back to its route's event, status and time."""
    method, path = request
    subject = pseudonym_for(len(path))
    table = ROUND_TRIP[layout]
    if layout == "combined":
        stamp = moment.strftime("%d/%b/%Y:%H:%M:%S %z")
        text = (
            f'{address} - - [{stamp}] "{method} {path}?page=1 HTTP/1.1" {status} 0 "-" '
            f'"{BROWSER}" "{account}" "{subject}"'
        )
        expected_time = moment.replace(microsecond=0)
    else:
        milliseconds = moment.microsecond // 1000
        msec = f"{(moment - EPOCH) // timedelta(seconds=1)}.{milliseconds:03d}"
        record = {
            "msec": msec,
            "ip": address,
            "method": method,
            "uri": f"{path}?page=1",
            "status": status,
            "user_agent": BROWSER,
            "account": account,
            "subject": subject,
        }
        text = json.dumps(record)
        expected_time = moment.replace(microsecond=milliseconds * 1000)
    (outcome,) = _parse(table, text)
    matched = table.match(method, path)
    if matched is None:
        assert isinstance(outcome, Skipped)
        return
    route = matched[0]
    kind, result = route.decide(status)
    assert isinstance(outcome, Event), outcome
    assert (outcome.kind, outcome.outcome, outcome.lookup) == (kind, result, route.lookup)
    assert outcome.time == expected_time
    assert (outcome.ip, outcome.account, outcome.user_agent) == (address, account, BROWSER)
    assert Event.from_dict(outcome.to_dict()) == outcome
