"""Route tables: loading and validating them, matching requests, statuses to outcomes."""

from __future__ import annotations

import dataclasses
import textwrap
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from rempart.errors import ConfigError
from rempart.events import EventKind, Lookup, Outcome
from rempart.ingestion.logs import routes
from rempart.ingestion.logs.routes import LogFormat, RouteTable, Source, TimeFormat
from rempart.testbed.portal.app import SESSION_COOKIE
from rempart.testbed.portal.patients import RECORD_CATEGORIES, SEARCH_CATEGORIES

SHIPPED = Path(str(resources.files("rempart") / "data" / "routes-portal.toml"))


def _read_route(**overrides: Any) -> dict[str, Any]:
    route = {
        "method": "GET",
        "path": "/patients/by-card/{card}",
        "kind": "record_view",
        "lookup": "card",
        "subject": "field:subject",
        "categories": ["identity"],
    }
    return {**route, **overrides}


def _table(**overrides: Any) -> dict[str, Any]:
    table: dict[str, Any] = {"extra_fields": ["subject"], "routes": [_read_route()]}
    return {**table, **overrides}


def _docstring_block(after: str) -> str:
    doc = routes.__doc__ or ""
    block = doc.split(after, 1)[1].lstrip("\n")
    lines = []
    for line in block.splitlines():
        if line and not line.startswith(" "):
            break
        lines.append(line)
    return textwrap.dedent("\n".join(lines))


def test_the_documented_example_is_a_valid_table() -> None:
    """The combined-format table in the module docstring loads and means what it says."""
    table = RouteTable.from_dict(tomllib.loads(_docstring_block("in TOML::")))
    assert table.log_format is LogFormat.COMBINED
    assert table.session == (Source("cookie", "portal_session"),)
    login, _ = table.match("POST", "/login") or (None, None)
    assert login is not None
    assert login.decide(303) == (EventKind.LOGIN_SUCCESS, Outcome.SUCCESS)
    assert login.decide(401) == (EventKind.LOGIN_FAILURE, Outcome.REFUSED)
    typed, _ = table.match("GET", "/patients") or (None, None)
    assert typed is not None
    assert typed.decide(302)[1] is Outcome.REFUSED
    assert typed.decide(409)[1] is Outcome.FAILURE


def test_the_documented_json_fields_are_a_valid_table() -> None:
    """The [fields] snippet of the module docstring, with one route, is a valid JSON table."""
    fields = tomllib.loads(_docstring_block("the defaults are the part names::"))["fields"]
    logout = {"method": "POST", "path": "/logout", "kind": "logout"}
    table = RouteTable.from_dict({"log_format": "json", "fields": fields, "routes": [logout]})
    assert table.key("cookie") == "cookie"
    assert table.key("session") == "session"


def test_the_shipped_portal_table_fits_the_portal() -> None:
    """routes-portal.toml logs the portal's session cookie and routes each endpoint as it is."""
    assert f'"session":"$cookie_{SESSION_COOKIE}"' in SHIPPED.read_text()
    table = RouteTable.from_toml(SHIPPED)
    assert (table.log_format, table.time_format, table.key("time")) == (
        LogFormat.JSON,
        TimeFormat.MSEC,
        "msec",
    )
    expected = {
        ("POST", "/login"): (EventKind.LOGIN_SUCCESS, None, ()),
        ("POST", "/logout"): (EventKind.LOGOUT, None, ()),
        ("POST", "/step-up"): (EventKind.MFA_SUCCESS, None, ()),
        ("POST", "/password-reset"): (EventKind.PASSWORD_RESET_REQUEST, None, ()),
        ("POST", "/password-reset/confirm"): (EventKind.PASSWORD_RESET, None, ()),
        ("GET", "/patients"): (EventKind.RECORD_VIEW, Lookup.TYPED_NIR, RECORD_CATEGORIES),
        ("GET", "/patients/by-card/0a1b"): (EventKind.RECORD_VIEW, Lookup.CARD, RECORD_CATEGORIES),
        ("GET", "/patients/by-link/p0a1b"): (EventKind.RECORD_VIEW, Lookup.LINK, RECORD_CATEGORIES),
        ("GET", "/patients/search"): (EventKind.SEARCH, Lookup.SEARCH, SEARCH_CATEGORIES),
    }
    for (method, path), (kind, lookup, categories) in expected.items():
        matched = table.match(method, path)
        assert matched is not None, path
        route = matched[0]
        assert (route.decide(200)[0], route.lookup, route.categories) == (kind, lookup, categories)
    assert table.match("GET", "/static/portal.css") is None
    assert table.match("GET", "/login") is None  # the sign-in page is not a sign-in


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.SUCCESS),
        (204, Outcome.SUCCESS),
        (302, Outcome.SUCCESS),
        (404, Outcome.NOT_FOUND),
        (401, Outcome.REFUSED),
        (403, Outcome.REFUSED),
        (429, Outcome.REFUSED),
        (400, Outcome.FAILURE),
        (499, Outcome.FAILURE),
        (500, Outcome.FAILURE),
        (101, Outcome.FAILURE),
    ],
)
def test_default_outcomes(status: int, outcome: Outcome) -> None:
    """Without overrides, a status maps to its documented outcome."""
    table = RouteTable.from_dict(_table())
    assert table.routes[0].decide(status) == (EventKind.RECORD_VIEW, outcome)


def test_route_overrides_win_over_table_overrides_and_codes_over_classes() -> None:
    """A route's code, then its class, then the table's code, then its class, then the default."""
    table = RouteTable.from_dict(
        _table(
            outcomes={"4xx": "failure", "410": "not_found", "5xx": "refused"},
            routes=[_read_route(outcomes={"4xx": "refused", "418": "success"})],
        )
    )
    route = table.routes[0]
    assert route.decide(418)[1] is Outcome.SUCCESS  # route code
    assert route.decide(410)[1] is Outcome.REFUSED  # route class beats table code
    assert route.decide(503)[1] is Outcome.REFUSED  # table class
    assert route.decide(200)[1] is Outcome.SUCCESS  # default


def test_success_status_decides_login_and_narrows_success() -> None:
    """Login is a success only on the listed statuses; any other success becomes a failure."""
    table = RouteTable.from_dict(
        _table(
            routes=[
                {"method": "POST", "path": "/login", "kind": "login", "success_status": [303]},
                {
                    "method": "POST",
                    "path": "/password-reset/confirm",
                    "kind": "password_reset",
                    "success_status": [200],
                },
            ]
        )
    )
    login, confirm = table.routes
    assert login.decide(303) == (EventKind.LOGIN_SUCCESS, Outcome.SUCCESS)
    assert login.decide(200) == (EventKind.LOGIN_FAILURE, Outcome.FAILURE)
    assert login.decide(401) == (EventKind.LOGIN_FAILURE, Outcome.REFUSED)
    assert confirm.decide(302) == (EventKind.PASSWORD_RESET, Outcome.FAILURE)


def test_literal_paths_come_first_and_parameters_take_one_segment() -> None:
    """A literal route wins over a pattern; {name} matches one non-empty segment only."""
    table = RouteTable.from_dict(
        _table(
            routes=[
                _read_route(path="/patients/{ref}", lookup="link"),
                _read_route(path="/patients/search", kind="search", lookup="search", subject=[]),
            ]
        )
    )
    search = table.match("GET", "/patients/search")
    assert search is not None
    assert search[0].lookup is Lookup.SEARCH
    assert table.match("GET", "/patients/p42") == (table.routes[0], {"ref": "p42"})
    assert table.match("GET", "/patients/p42/more") is None
    assert table.match("GET", "/patients/") is None
    assert table.match("POST", "/patients/p42") is None


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"colour": "blue"}, "colour"),
        ({"log_format": "xml"}, "log_format"),
        ({"time_format": "unix"}, "time_format"),
        ({"routes": []}, "routes"),
        ({"account": "header"}, "account"),
        ({"account": "remote_user:x"}, "account"),
        ({"account": "path:card"}, "account"),
        ({"session": "cookie:portal_session"}, "session"),  # no "cookie" field named
        ({"ip": "query:ip"}, "ip"),
        ({"extra_fields": ["a", "a"]}, "extra_fields"),
        ({"fields": {"time": "msec"}}, "fields"),  # [fields] belongs to json
        ({"log_format": "json", "extra_fields": [], "fields": {"uri": "u", "path": "p"}},
         "fields"),
        ({"outcomes": {"20x": "success"}}, "outcomes"),
        ({"outcomes": {"404": "gone"}}, "outcomes.404"),
        ({"routes": [_read_route(method="get")]}, "routes[0].method"),
        ({"routes": [_read_route(path="patients")]}, "routes[0].path"),
        ({"routes": [_read_route(kind="view")]}, "routes[0].kind"),
        ({"routes": [_read_route(lookup=None)]}, "routes[0].lookup"),
        ({"routes": [_read_route(lookup="guess")]}, "routes[0].lookup"),
        ({"routes": [_read_route(categories=[])]}, "routes[0].categories"),
        ({"routes": [_read_route(categories=["blood"])]}, "routes[0].categories"),
        ({"routes": [_read_route(subject="path:nir")]}, "routes[0].subject"),
        ({"routes": [_read_route(subject="field:patient")]}, "routes[0].subject"),
        ({"routes": [_read_route(result_count="field:subject")]}, "routes[0].result_count"),
        ({"routes": [_read_route(success_status=[99])]}, "routes[0].success_status"),
        ({"routes": [_read_route(colour="blue")]}, "routes[0].colour"),
        ({"routes": [{"method": "POST", "path": "/logout", "kind": "logout",
                      "subject": "field:subject"}]}, "routes[0].subject"),
    ],
)  # fmt: skip
def test_an_invalid_table_names_the_key(changes: dict[str, Any], key: str) -> None:
    """Each kind of mistake is a ConfigError naming the key at fault."""
    with pytest.raises(ConfigError) as raised:
        RouteTable.from_dict(_table(**changes))
    assert raised.value.key == key


def test_from_toml_reports_unreadable_and_malformed_files(tmp_path: Path) -> None:
    """A missing file and a file that is not TOML are ConfigErrors about the routes."""
    with pytest.raises(ConfigError, match="readable"):
        RouteTable.from_toml(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("log_format = \n")
    with pytest.raises(ConfigError, match="valid TOML"):
        RouteTable.from_toml(broken)


def test_sources_read_every_documented_form() -> None:
    """Each place parses, header: is a field, and a place not allowed for the key is refused."""
    places = ("remote_user", "field", "cookie", "query")
    assert Source.parse("remote_user", "account", places) == Source("remote_user")
    assert Source.parse("header:x-audit-account", "account", places) == Source(
        "field", "x-audit-account"
    )
    assert str(Source.parse("cookie:portal_session", "session", places)) == (
        "cookie:portal_session"
    )
    with pytest.raises(ConfigError, match="one of remote_user, field:NAME"):
        Source.parse("path:nir", "account", places)
    with pytest.raises(ConfigError):
        Source.parse("field:", "account", places)
    with pytest.raises(ConfigError):
        Source.parse(42, "account", places)


def test_a_table_is_frozen() -> None:
    """A loaded table cannot be changed under a running parser."""
    table = RouteTable.from_dict(_table())
    with pytest.raises(dataclasses.FrozenInstanceError):
        table.routes = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        table.fields["time"] = "x"  # type: ignore[index]
