"""Route tables: which requests of a web server's access log are portal actions, and what they say.

A `RouteTable` is the configuration of the access-log parser
(`rempart.ingestion.logs.access`): the log's format, where the account, the
session and the client address sit in a line, how a status code becomes an
`Outcome`, and one `Route` per portal endpoint. A request no route matches (a
style sheet, a health check) is not a portal action and is skipped. A
complete table for a combined log (``... "$http_user_agent" "$http_cookie"
"$upstream_http_x_audit_account" "$upstream_http_x_audit_subject" $count``),
in TOML::

    log_format = "combined"        # or "json": one object per line (nginx escape=json)
    time_format = "auto"           # or "time_local", "time_iso8601", "msec"
    # combined only: the fields after the user agent, in order, quoted or bare
    extra_fields = ["cookie", "account", "subject", "count"]
    account = "field:account"      # remote_user, field:NAME (or header:NAME), cookie:NAME,
                                   # query:NAME, or a list of them: the first present wins
                                   # (absent, or "", "-" or an empty "" in a line: none)
    session = "cookie:portal_session"   # the same forms; cookie:NAME reads the field "cookie"
    ip = "remote_addr"             # or field:NAME (the first address of an X-Forwarded-For list)

    [outcomes]                     # status code ("409") or class ("5xx") = outcome
    "409" = "failure"

    [[routes]]
    method = "POST"
    path = "/login"
    kind = "login"                 # login_success when the status is a success, else login_failure
    success_status = [200, 303]    # the only statuses that are success (default: [outcomes])

    [[routes]]
    method = "GET"
    path = "/patients"             # matched without the query string
    kind = "record_view"           # an EventKind value, or "login" / "mfa"
    lookup = "typed_nir"           # a Lookup value (reads)
    subject = ["field:subject", "query:nir"]   # the first present; query:/path: hold a clear
                                   # NIR (pseudonymised at once), field:/header: a pseudonym
    categories = ["identity", "birth_date", "rights"]   # what a successful read returned
    outcomes = { "3xx" = "refused" }   # per-route status overrides

    [[routes]]
    method = "GET"
    path = "/patients/by-card/{card}"   # {name}: one path segment
    kind = "record_view"
    lookup = "card"
    subject = "field:subject"
    categories = ["identity", "birth_date", "rights"]

    [[routes]]
    method = "GET"
    path = "/patients/search"
    kind = "search"
    lookup = "search"
    categories = ["identity"]
    result_count = "field:count"

A JSON log (``log_format = "json"``) names its keys in ``[fields]`` instead of
``extra_fields``; the defaults are the part names::

    [fields]
    time = "time"                  # written as time_format says, or told apart
    ip = "ip"
    method = "method"
    uri = "uri"                    # path and query; or path = "..." and query = "..." apart
    status = "status"              # a number or a string of digits
    user_agent = "user_agent"
    remote_user = "remote_user"
    cookie = "cookie"              # any other name = JSON key, read by field:NAME (by default
                                   # field:NAME reads the key NAME)

Outcomes by default: 2xx and 3xx success, 404 not_found, 401, 403 and 429
refused, any other status failure. A route's ``outcomes`` win over the
table's, which win over the defaults; within each, a code wins over its class.

>>> table = RouteTable.from_dict({"extra_fields": ["subject"], "routes": [
...     {"method": "GET", "path": "/patients/by-card/{card}", "kind": "record_view",
...      "lookup": "card", "subject": "field:subject", "categories": ["identity"]}]})
>>> route, params = table.match("GET", "/patients/by-card/c42")
>>> params
{'card': 'c42'}
>>> [outcome.value for _, outcome in map(route.decide, (200, 303, 404, 403, 500))]
['success', 'success', 'not_found', 'refused', 'failure']
>>> table.match("GET", "/static/app.css") is None
True
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import InitVar, dataclass, field
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, TypeVar

from rempart.errors import ConfigError
from rempart.events import DataCategory, EventKind, Lookup, Outcome
from rempart.tomlconfig import read_toml

__all__ = [
    "STATUS_LIMIT",
    "LogFormat",
    "Route",
    "RouteTable",
    "Source",
    "TimeFormat",
    "default_outcome",
]

_PARAMETER: Final = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_STATUS_KEY: Final = re.compile(r"[1-5](?:[0-9]{2}|xx)")
_METHOD: Final = re.compile(r"[A-Z]+")
STATUS_LIMIT: Final = 600
"""Statuses are 100 to 599; anything else in a log line is rejected."""
_Enum = TypeVar("_Enum", bound=StrEnum)


class LogFormat(StrEnum):
    """How a line is laid out."""

    COMBINED = "combined"
    JSON = "json"


class TimeFormat(StrEnum):
    """How the time field is written (``auto``: told apart line by line)."""

    AUTO = "auto"
    TIME_LOCAL = "time_local"
    TIME_ISO8601 = "time_iso8601"
    MSEC = "msec"


def default_outcome(status: int) -> Outcome:
    """The outcome of a status when no table says otherwise.

    >>> [default_outcome(s).value for s in (200, 303, 404, 429, 400, 503)]
    ['success', 'success', 'not_found', 'refused', 'failure', 'failure']
    """
    if status == 404:
        return Outcome.NOT_FOUND
    if status in (401, 403, 429):
        return Outcome.REFUSED
    if 200 <= status < 400:
        return Outcome.SUCCESS
    return Outcome.FAILURE


@dataclass(frozen=True, slots=True)
class Source:
    """Where a value sits in a line: ``place`` and, except for the built-in fields, ``name``.

    Places: ``remote_user`` and ``remote_addr`` (the server's own fields),
    ``field`` (a named log field: a JSON key or a named extra field; written
    ``header:NAME`` too, for a logged header), ``cookie`` (a cookie of the
    logged Cookie header, the field named ``cookie``), ``query`` (a parameter
    of the query string) and ``path`` (a ``{name}`` segment of the route).
    """

    place: str
    name: str = ""

    @classmethod
    def parse(cls, text: object, key: str, places: Iterable[str]) -> Source:
        """Read ``remote_user``, ``field:NAME``...; a place not in ``places`` is a `ConfigError`."""
        allowed = tuple(places)
        forms = ", ".join(p if p in _BUILT_IN else f"{p}:NAME" for p in allowed)
        if not isinstance(text, str):
            raise ConfigError(key, f"a string, one of {forms}", text)
        place, colon, name = text.partition(":")
        if place == "header":
            place = "field"
        if place not in allowed or bool(colon) == (place in _BUILT_IN):
            raise ConfigError(key, f"one of {forms}", text)
        if colon and _NAME.fullmatch(name) is None:
            raise ConfigError(key, "a field name of letters, digits, _ . -", text)
        return cls(place, name)

    def __str__(self) -> str:
        return f"{self.place}:{self.name}" if self.name else self.place


_BUILT_IN: Final = frozenset({"remote_user", "remote_addr"})
_ACCOUNT_PLACES: Final = ("remote_user", "field", "cookie", "query")
_IP_PLACES: Final = ("remote_addr", "field")
_SUBJECT_PLACES: Final = ("field", "query", "path")
_COUNT_PLACES: Final = ("field", "query")
_RULE_KINDS: Final = {
    "login": (EventKind.LOGIN_SUCCESS, EventKind.LOGIN_FAILURE),
    "mfa": (EventKind.MFA_SUCCESS, EventKind.MFA_FAILURE),
}
_READ_KINDS: Final = frozenset({EventKind.RECORD_VIEW, EventKind.SEARCH})
_JSON_PARTS: Final = MappingProxyType(
    {
        "time": "time",
        "ip": "ip",
        "method": "method",
        "uri": "uri",
        "status": "status",
        "user_agent": "user_agent",
        "remote_user": "remote_user",
    }
)


def _outcome_map(value: object, key: str) -> Mapping[str, Outcome]:
    if not isinstance(value, Mapping):
        raise ConfigError(key, 'a table of status = outcome ("404" = "not_found")', value)
    outcomes: dict[str, Outcome] = {}
    for status, outcome in value.items():
        if not isinstance(status, str) or _STATUS_KEY.fullmatch(status) is None:
            raise ConfigError(key, 'status codes ("409") or classes ("5xx")', status)
        try:
            outcomes[status] = Outcome(outcome)
        except ValueError:
            expected = f"one of {', '.join(o.value for o in Outcome)}"
            raise ConfigError(f"{key}.{status}", expected, outcome) from None
    return MappingProxyType(outcomes)


def _resolve(status: int, *tables: Mapping[str, Outcome]) -> Outcome:
    code, family = str(status), f"{status // 100}xx"
    for table in tables:
        found = table.get(code) or table.get(family)
        if found is not None:
            return found
    return default_outcome(status)


@dataclass(frozen=True, slots=True)
class Route:
    """One portal endpoint: which requests it matches and the event each becomes.

    ``kind`` is an `EventKind` value, or ``login`` / ``mfa`` (the success or
    failure kind by the status). ``subject`` lists where the patient may be,
    tried in order; ``result_count`` where a search's count is. ``outcomes``
    overrides the table's status mapping; ``success_status``, when given, is
    the only statuses that count as success. ``table_outcomes`` is the
    table's own mapping, folded in at construction.
    """

    method: str
    path: str
    kind: str
    lookup: Lookup | None = None
    subject: tuple[Source, ...] = ()
    categories: tuple[DataCategory, ...] = ()
    result_count: Source | None = None
    success_status: frozenset[int] | None = None
    outcomes: Mapping[str, Outcome] = field(default_factory=lambda: MappingProxyType({}))
    table_outcomes: InitVar[Mapping[str, Outcome] | None] = None
    params: tuple[str, ...] = field(init=False)
    _regex: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _decisions: tuple[tuple[EventKind, Outcome], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self, table_outcomes: Mapping[str, Outcome] | None) -> None:
        if _METHOD.fullmatch(self.method) is None:
            raise ConfigError("method", "an HTTP method in capitals (GET, POST)", self.method)
        if not self.path.startswith("/"):
            raise ConfigError("path", "a path starting with / (/patients/{ref})", self.path)
        parts = _PARAMETER.split(self.path)  # literal text and parameter names, alternating
        params = tuple(parts[1::2])
        object.__setattr__(self, "params", params)
        regex = None
        if params:
            pattern = "".join(
                re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)"
                for i, part in enumerate(parts)
            )
            regex = re.compile(pattern + r"\Z")
        object.__setattr__(self, "_regex", regex)
        success, otherwise = self._kinds()
        reads = success in _READ_KINDS
        if reads and self.lookup is None:
            raise ConfigError("lookup", f"a lookup for kind {self.kind!r}", None)
        if not reads:
            for key, value in (
                ("lookup", self.lookup),
                ("subject", self.subject),
                ("categories", self.categories),
            ):
                if value:
                    raise ConfigError(key, f"none for kind {self.kind} (reads only)", value)
        if success is EventKind.RECORD_VIEW and not (self.subject and self.categories):
            raise ConfigError("categories", "a subject and categories for record_view", None)
        for source in self.subject:
            if source.place == "path" and source.name not in params:
                raise ConfigError("subject", f"a parameter of {self.path}", str(source))
        if self.result_count is not None and success is not EventKind.SEARCH:
            raise ConfigError("result_count", "a search route", self.kind)
        defaults = table_outcomes if table_outcomes is not None else {}
        decisions = []
        for status in range(STATUS_LIMIT):
            outcome = _resolve(status, self.outcomes, defaults)
            if self.success_status is not None:
                if status in self.success_status:
                    outcome = Outcome.SUCCESS
                elif outcome is Outcome.SUCCESS:
                    outcome = Outcome.FAILURE
            decisions.append((success if outcome is Outcome.SUCCESS else otherwise, outcome))
        object.__setattr__(self, "_decisions", tuple(decisions))

    def _kinds(self) -> tuple[EventKind, EventKind]:
        if self.kind in _RULE_KINDS:
            return _RULE_KINDS[self.kind]
        try:
            kind = EventKind(self.kind)
        except ValueError:
            expected = f"login, mfa or one of {', '.join(k.value for k in EventKind)}"
            raise ConfigError("kind", expected, self.kind) from None
        return kind, kind

    def match(self, path: str) -> dict[str, str] | None:
        """The path parameters when ``path`` (no query string) matches, else None."""
        if self._regex is None:
            return {} if path == self.path else None
        found = self._regex.match(path)
        return found.groupdict() if found is not None else None

    def decide(self, status: int) -> tuple[EventKind, Outcome]:
        """The event kind and outcome of an answer with ``status`` (100 to 599)."""
        return self._decisions[status]


@dataclass(frozen=True, slots=True)
class RouteTable:
    """A validated route table; see the module docstring for every key.

    ``fields`` maps event parts and other names to JSON keys (json format,
    defaults filled in); ``extra_fields`` names the combined format's trailing
    fields. ``account`` and ``session`` are places tried in order, the first
    present in a line winning. ``source`` names where the table came from.
    """

    routes: tuple[Route, ...]
    log_format: LogFormat = LogFormat.COMBINED
    time_format: TimeFormat = TimeFormat.AUTO
    extra_fields: tuple[str, ...] = ()
    fields: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    account: tuple[Source, ...] = (Source("remote_user"),)
    session: tuple[Source, ...] = ()
    ip: Source = Source("remote_addr")
    outcomes: Mapping[str, Outcome] = field(default_factory=lambda: MappingProxyType({}))
    source: str = "<routes>"
    _literal: Mapping[tuple[str, str], Route] = field(init=False, repr=False, compare=False)
    _patterned: Mapping[str, tuple[Route, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.routes:
            raise ConfigError("routes", "at least one [[routes]] entry", [])
        if self.log_format is LogFormat.COMBINED and self.fields:
            raise ConfigError("fields", "no [fields] for combined (name extra_fields)", None)
        if self.log_format is LogFormat.JSON and self.extra_fields:
            raise ConfigError("extra_fields", "no extra_fields for json (use [fields])", None)
        if self.log_format is LogFormat.JSON and "uri" in self.fields and "path" in self.fields:
            raise ConfigError("fields", "either uri, or path and query", "uri and path")
        if not self.account:
            raise ConfigError("account", "where the account is (remote_user, field:NAME...)", [])
        wanted: list[tuple[str, Source | None]] = [("ip", self.ip)]
        wanted += [("account", source) for source in self.account]
        wanted += [("session", source) for source in self.session]
        for i, route in enumerate(self.routes):
            wanted += [(f"routes[{i}].subject", source) for source in route.subject]
            wanted.append((f"routes[{i}].result_count", route.result_count))
        named = {*self.extra_fields, "remote_user"}
        for key, source in wanted:
            if source is None or self.log_format is LogFormat.JSON:
                continue
            needed = "cookie" if source.place == "cookie" else source.name
            if source.place in ("field", "cookie") and needed not in named:
                raise ConfigError(key, f"a field named in extra_fields ({needed})", str(source))
        literal: dict[tuple[str, str], Route] = {}
        patterned: dict[str, tuple[Route, ...]] = {}
        for route in self.routes:
            if route.params:
                patterned[route.method] = (*patterned.get(route.method, ()), route)
            else:
                literal.setdefault((route.method, route.path), route)
        object.__setattr__(self, "_literal", MappingProxyType(literal))
        object.__setattr__(self, "_patterned", MappingProxyType(patterned))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        """The route of a request and its path parameters; literal paths first, then in order."""
        route = self._literal.get((method, path))
        if route is not None:
            return route, {}
        for candidate in self._patterned.get(method, ()):
            params = candidate.match(path)
            if params is not None:
                return candidate, params
        return None

    def key(self, name: str) -> str:
        """The JSON key of a part or named field (json format): as declared, else the name."""
        return self.fields.get(name, name)

    @classmethod
    def from_toml(cls, path: str | Path) -> RouteTable:
        """Load and validate a TOML route table; `ConfigError` names the bad key."""
        data = read_toml(path, "routes")
        return cls.from_dict(data, source=str(path))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<routes>") -> RouteTable:
        """Validate a mapping laid out as the TOML; `ConfigError` names the bad key."""
        unknown = set(data) - _TABLE_KEYS
        if unknown:
            raise ConfigError(min(unknown), f"one of {', '.join(sorted(_TABLE_KEYS))}", None)
        log_format = _choice(data, "log_format", LogFormat, LogFormat.COMBINED)
        outcomes = _outcome_map(data.get("outcomes", {}), "outcomes")
        raw_routes = data.get("routes")
        if not isinstance(raw_routes, list) or not raw_routes:
            raise ConfigError("routes", "at least one [[routes]] table", raw_routes)
        routes = tuple(
            _route(entry, f"routes[{i}]", outcomes) for i, entry in enumerate(raw_routes)
        )
        return cls(
            routes=routes,
            log_format=log_format,
            time_format=_choice(data, "time_format", TimeFormat, TimeFormat.AUTO),
            extra_fields=_names(data.get("extra_fields", []), "extra_fields"),
            fields=_fields(data.get("fields"), log_format),
            account=_sources(data.get("account", "remote_user"), "account", _ACCOUNT_PLACES),
            session=_sources(data.get("session", []), "session", _ACCOUNT_PLACES),
            ip=Source.parse(data.get("ip", "remote_addr"), "ip", _IP_PLACES),
            outcomes=outcomes,
            source=source,
        )


_TABLE_KEYS: Final = frozenset(
    {
        "log_format",
        "time_format",
        "extra_fields",
        "fields",
        "account",
        "session",
        "ip",
        "outcomes",
        "routes",
    }
)
_ROUTE_KEYS: Final = frozenset(
    {
        "method",
        "path",
        "kind",
        "lookup",
        "subject",
        "categories",
        "result_count",
        "success_status",
        "outcomes",
    }
)


def _choice(data: Mapping[str, Any], key: str, enum: type[_Enum], default: _Enum) -> _Enum:
    value = data.get(key, default)
    try:
        return enum(value)
    except ValueError:
        raise ConfigError(key, f"one of {', '.join(e.value for e in enum)}", value) from None


def _names(value: object, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(
        isinstance(n, str) and _NAME.fullmatch(n) for n in value
    ):
        raise ConfigError(key, 'a list of field names (["session", "account"])', value)
    if len(set(value)) != len(value):
        raise ConfigError(key, "distinct names", value)
    return tuple(value)


def _fields(value: object, log_format: LogFormat) -> Mapping[str, str]:
    if value is None:
        return MappingProxyType(dict(_JSON_PARTS) if log_format is LogFormat.JSON else {})
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in value.items()
    ):
        raise ConfigError("fields", 'a table of part = "json key" (time = "msec")', value)
    declared = dict(value)
    if log_format is LogFormat.COMBINED:
        return MappingProxyType(declared)  # refused by RouteTable with its reason
    defaults = {k: v for k, v in _JSON_PARTS.items() if not (k == "uri" and "path" in declared)}
    return MappingProxyType({**defaults, **declared})


def _sources(value: object, key: str, places: tuple[str, ...]) -> tuple[Source, ...]:
    """One place or a list of places, tried in order."""
    listed = value if isinstance(value, list) else [value]
    return tuple(Source.parse(text, key, places) for text in listed)


def _route(entry: object, key: str, table_outcomes: Mapping[str, Outcome]) -> Route:
    if not isinstance(entry, Mapping):
        raise ConfigError(key, "a [[routes]] table", entry)
    unknown = set(entry) - _ROUTE_KEYS
    if unknown:
        raise ConfigError(f"{key}.{min(unknown)}", f"one of {', '.join(sorted(_ROUTE_KEYS))}", None)
    for required in ("method", "path", "kind"):
        if not isinstance(entry.get(required), str):
            raise ConfigError(f"{key}.{required}", "a string", entry.get(required))
    count = entry.get("result_count")
    try:
        return Route(
            method=entry["method"],
            path=entry["path"],
            kind=entry["kind"],
            lookup=_enum(entry, "lookup", Lookup, key),
            subject=_sources(entry.get("subject", []), f"{key}.subject", _SUBJECT_PLACES),
            categories=_categories(entry.get("categories", []), f"{key}.categories"),
            result_count=None
            if count is None
            else Source.parse(count, f"{key}.result_count", _COUNT_PLACES),
            success_status=_statuses(entry.get("success_status"), f"{key}.success_status"),
            outcomes=_outcome_map(entry.get("outcomes", {}), f"{key}.outcomes"),
            table_outcomes=table_outcomes,
        )
    except ConfigError as error:
        if error.key.startswith(key):
            raise
        raise ConfigError(f"{key}.{error.key}", error.expected, error.got) from None


def _enum(entry: Mapping[str, Any], name: str, enum: type[_Enum], key: str) -> _Enum | None:
    value = entry.get(name)
    if value is None:
        return None
    try:
        return enum(value)
    except ValueError:
        expected = f"one of {', '.join(e.value for e in enum)}"
        raise ConfigError(f"{key}.{name}", expected, value) from None


def _categories(value: object, key: str) -> tuple[DataCategory, ...]:
    expected = f"a list of {', '.join(c.value for c in DataCategory)}"
    if not isinstance(value, list):
        raise ConfigError(key, expected, value)
    try:
        return tuple(DataCategory(c) for c in value)
    except ValueError:
        raise ConfigError(key, expected, value) from None


def _statuses(value: object, key: str) -> frozenset[int] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(
        type(s) is int and 100 <= s < STATUS_LIMIT for s in value
    ):
        raise ConfigError(key, "a list of HTTP statuses ([200, 303])", value)
    return frozenset(value)
