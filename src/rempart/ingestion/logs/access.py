"""Web server access logs (nginx, Apache) as portal events, by a declared `RouteTable`.

A portal whose only record of who read whom is its front proxy's access log
still feeds Rempart: the route table (`rempart.ingestion.logs.routes`) says
which requests are portal actions and where the account, the session and the
patient are in a line. Two layouts:

- ``combined``, the default of both servers::

    $remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent
    "$http_referer" "$http_user_agent"

  optionally followed by more fields, quoted or bare, that the table names in
  order (``extra_fields``); one compiled regular expression reads a line;
- ``json``: nginx's ``log_format ... escape=json '{...}'``, one object per
  line, keys named in the table's ``[fields]``.

For each line the parser yields an `Event`, a located `Rejected` (the line is
malformed, a value is out of the event schema's bounds, the address is not
one) or a `Skipped` (no route matches: a style sheet, a health check; or an
account action refused before the portal knew who asked). Times become aware
UTC. A clear NIR found where the table says a patient is designated (``query:``,
``path:``) is pseudonymised at once; an invalid one designates nobody, and
the read is ``not_found`` without a subject. A clear NIR is never written into
an event or a message, nor hashed into an event identifier (the identifier is
`LineIds` over the line with NIR-shaped numbers blanked: an unkeyed hash of a
line holding a NIR could be reversed by trying every NIR).

>>> from rempart.ingestion.logs import LogLine
>>> from rempart.ingestion.logs.routes import RouteTable
>>> table = RouteTable.from_dict({"routes": [
...     {"method": "POST", "path": "/login", "kind": "login", "success_status": [200]}]})
>>> parser = AccessLogParser(table, None)
>>> text = ('90.12.34.56 - A000001 [08/Mar/2022:10:00:01 +0100] "POST /login HTTP/1.1" 200 '
...         '17 "-" "Mozilla/5.0"')
>>> event, skipped = parser.parse([LogLine("access.log", 1, text),
...     LogLine("access.log", 2, text.replace("POST /login", "GET /app.css"))])
>>> event.kind.value, event.account, event.time.isoformat(), skipped.reason
('login_success', 'A000001', '2022-03-08T09:00:01+00:00', 'no route matches the request')
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, unquote_plus

import msgspec

from rempart.errors import ConfigError, NirError
from rempart.events import Event, EventKind, Outcome
from rempart.ingestion.logs.base import (
    LineIds,
    LogLine,
    ParsedLine,
    ParserOptions,
    ParserRegistry,
    Skipped,
    reject,
)
from rempart.ingestion.logs.routes import (
    STATUS_LIMIT,
    LogFormat,
    Route,
    RouteTable,
    Source,
    TimeFormat,
)
from rempart.nir import holds_nir, redact_nirs
from rempart.pseudonym import Pseudonymizer, is_pseudonym

__all__ = ["AccessLogParser", "register"]

_QUOTED: Final = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_COMBINED: Final = rf"(\S+) \S+ (\S+) \[([^\]]*)\] {_QUOTED} ([0-9]{{3}}) \S+ {_QUOTED} {_QUOTED}"
_COMBINED_GROUPS: Final = 7
_REMOTE_USER_GROUP: Final = 1
_EXTRA: Final = rf"(?:\s+(?:{_QUOTED}|(\S+)))?"  # one more field, quoted or bare: two groups
# nginx and Apache write a quote, a backslash and any byte outside printable ASCII as \xHH
# (nginx) or \" \\ (both).
_ESCAPE: Final = re.compile(r"\\x([0-9A-Fa-f]{2})|\\(.)", re.DOTALL)
_TIME_LOCAL: Final = re.compile(
    r"([0-9]{2})/([A-Z][a-z]{2})/([0-9]{4}):([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r" ([+-])([0-9]{2})([0-9]{2})"
)
_MSEC: Final = re.compile(r"([0-9]{1,11})(?:\.([0-9]{1,6}))?")
_MONTHS: Final = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# A NIR is 13 characters and a 2-digit key, often written with separators (also "+" in a
# query string). A run of digits, 2A/2B letters and separators holding 13 digits or letters
# once the separators are dropped may be one; a fuller pattern costs microseconds a line.
_NIR_CANDIDATE: Final = re.compile(r"[0-9][0-9 .+\-ABab]{12,}")
_COMPACT_RUN: Final = re.compile(r"[0-9][0-9ABab]{12}")
_SEPARATORS: Final = str.maketrans("", "", " .+-")
_NIR_LENGTH: Final = 15
_IDENTIFIER_LIMIT: Final = 128
_USER_AGENT_LIMIT: Final = 1024
_CACHE_LIMIT: Final = 4096
# nginx writes "-" or "" for a variable without a value, and a cookie set empty (a
# deletion, Set-Cookie: name="") as "".
_ABSENT: Final = frozenset({"", "-", '""'})

_NO_ROUTE: Final = "no route matches the request"
_NOT_HTTP: Final = "not an HTTP request line"
_NOBODY: Final = "no account: answered before the portal knew who asked"


class _LineError(Exception):
    """A line that cannot become an event: a reject, with the field at fault (internal)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


Fields = Any
"""A line's fields: the decoded JSON object, or the groups of the combined expression."""
Reader = Callable[[Fields, str, Mapping[str, str]], str | None]
"""Reads one value from a line's fields, its query string and its path parameters."""


def _unescape(text: str) -> str:
    r"""``text`` with the server's ``\xHH``, ``\"`` and ``\\`` escapes decoded (UTF-8)."""
    if "\\" not in text:
        return text
    out = bytearray()
    position = 0
    for escape in _ESCAPE.finditer(text):
        out += text[position : escape.start()].encode()
        hexadecimal, char = escape.groups()
        out += bytes((int(hexadecimal, 16),)) if hexadecimal else char.encode()
        position = escape.end()
    out += text[position:].encode()
    return out.decode("utf-8", "replace")


def _nir_runs(text: str) -> list[str]:
    """The runs of ``text`` that may be NIRs, valid or not (over-inclusive, never under)."""
    return [
        run
        for run in _NIR_CANDIDATE.findall(text)
        if _COMPACT_RUN.search(run.translate(_SEPARATORS))
    ]


def _without_nirs(text: str) -> str:
    """``text`` with every run that may be a NIR blanked.

    Then, by `rempart.nir.redact_nirs`, any run that still holds a valid NIR, however
    written (atheris found one with letters around it, 2026-12-08).
    """
    for run in _nir_runs(text):
        text = text.replace(run, "<redacted>")
    return redact_nirs(text)


def _json_path(key: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return f"$.{key}"
    return f"$[{json.dumps(key, ensure_ascii=False)}]"


def _present(value: object, field: str) -> str | None:
    """A field's text, or None when it is absent (missing, null, "" or "-")."""
    if value is None:
        return None
    if type(value) is int:
        return str(value)
    if not isinstance(value, str):
        raise _LineError(field, "expected a string")
    return None if value in _ABSENT else value


def _cookie(header: str, name: str) -> str | None:
    for pair in header.split(";"):
        key, _, value = pair.partition("=")
        if key.strip() == name:
            return value.strip()
    return None


def _query_value(query: str, name: str) -> str | None:
    found = None
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == name:
            found = value  # the last one, as the portal's framework reads it
    return found


# -- times ------------------------------------------------------------------------------


def _time_local(text: str) -> datetime:
    """``10/Oct/2000:13:55:36 -0700``, in UTC."""
    found = _TIME_LOCAL.fullmatch(text)
    month = _MONTHS.get(found[2]) if found is not None else None
    if found is None or month is None:
        raise ValueError("expected $time_local (10/Oct/2000:13:55:36 -0700)")
    day, _, year, hour, minute, second, sign, off_hours, off_minutes = found.groups()
    offset = timedelta(hours=int(off_hours), minutes=int(off_minutes))
    zone = timezone(-offset if sign == "-" else offset)
    moment = datetime(int(year), month, int(day), int(hour), int(minute), int(second), 0, zone)
    return moment.astimezone(UTC)


def _time_iso8601(text: str) -> datetime:
    """``2000-10-10T13:55:36-07:00``, in UTC; a time without an offset is refused."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:  # its message quotes the text, which may hold anything
        raise ValueError("expected $time_iso8601 (2000-10-10T13:55:36-07:00)") from None
    if moment.tzinfo is None:
        raise ValueError("expected an ISO 8601 time with its UTC offset")
    return moment.astimezone(UTC)


def _msec(text: str) -> datetime:
    """``971211336.123``: seconds since the epoch, with milliseconds."""
    found = _MSEC.fullmatch(text)
    if found is None:
        raise ValueError("expected $msec (seconds since 1970 with milliseconds)")
    seconds, fraction = found.groups()
    micro = int(fraction.ljust(6, "0")) if fraction else 0
    return _EPOCH + timedelta(seconds=int(seconds), microseconds=micro)


def _auto(text: str) -> datetime:
    """Whichever of the three forms ``text`` is written in."""
    if _MSEC.fullmatch(text):
        return _msec(text)
    if text[2:3] == "/":
        return _time_local(text)
    return _time_iso8601(text)


_TIME_PARSERS: Final[Mapping[TimeFormat, Callable[[str], datetime]]] = {
    TimeFormat.AUTO: _auto,
    TimeFormat.TIME_LOCAL: _time_local,
    TimeFormat.TIME_ISO8601: _time_iso8601,
    TimeFormat.MSEC: _msec,
}


class _Times:
    """A time parser remembering the last text: the lines of one second share their stamp."""

    __slots__ = ("_field", "_last", "_last_text", "_parse")

    def __init__(self, parse: Callable[[str], datetime], field: str) -> None:
        self._parse = parse
        self._field = field
        self._last_text = ""
        self._last = _EPOCH

    def __call__(self, text: str) -> datetime:
        if text == self._last_text:
            return self._last
        try:
            moment = self._parse(text)
        except (ValueError, OverflowError) as error:
            raise _LineError(self._field, str(error)) from None
        self._last_text, self._last = text, moment
        return moment


# -- the parser -------------------------------------------------------------------------


class _RoutePlan:
    """What the parser reads for one route: the subject's places and the search count."""

    __slots__ = ("count", "subjects")

    def __init__(
        self, subjects: tuple[tuple[bool, Reader, str], ...], count: tuple[Reader, str] | None
    ) -> None:
        self.subjects = subjects  # (holds a clear NIR, reader, field) in the declared order
        self.count = count


_Routed = tuple[Route, dict[str, str], str, str, str]
"""A request a route matched: the route, its path parameters, the method, the target as
written and its query string (a plain tuple: one is built for most lines)."""


class AccessLogParser:
    """Parses access-log lines by ``routes``; ``pseudonymizer`` replaces clear NIRs.

    Without a pseudonymizer, a line whose patient is a clear NIR is rejected
    (it cannot be stored). ``name`` is the format's registry name.
    """

    def __init__(
        self, routes: RouteTable, pseudonymizer: Pseudonymizer | None, *, name: str = "access"
    ) -> None:
        self.name = name
        self.routes = routes
        self._pseudonymizer = pseudonymizer
        json_format = routes.log_format is LogFormat.JSON
        self._json = json_format
        if json_format:
            self._paths = {part: _json_path(routes.key(part)) for part in _PARTS}
            if "uri" not in routes.fields:
                self._paths["uri"] = self._paths["path"]
        else:
            self._paths = dict(_COMBINED_PATHS)
        self._account = self._first_of(routes.account)
        self._session = self._first_of(routes.session) if routes.session else None
        self._account_field = self._field_of(routes.account[0])
        self._session_field = self._field_of(routes.session[0]) if routes.session else ""
        self._ip = self._reader(routes.ip) if routes.ip.place != "remote_addr" else None
        self._ip_field = self._field_of(routes.ip)
        self._plans: dict[int, _RoutePlan] = {}
        for route in routes.routes:
            subjects = tuple(
                (s.place in ("query", "path"), self._reader(s), self._field_of(s))
                for s in route.subject
            )
            count = route.result_count
            plan_count = None if count is None else (self._reader(count), self._field_of(count))
            # Keyed by identity: a Route holds mappings, so it has no hash.
            self._plans[id(route)] = _RoutePlan(subjects, plan_count)
        self._time_parser = _TIME_PARSERS[routes.time_format]
        # One expression for the whole line, the named extra fields included.
        self._combined = re.compile(
            _COMBINED + _EXTRA * len(routes.extra_fields) + r"(?:\s.*)?\Z", re.DOTALL
        )

    # -- configuration time -------------------------------------------------------------

    def _key(self, name: str) -> str:
        return self.routes.key(name) if self._json else name

    def _field_of(self, source: Source) -> str:
        """The field a value is read from, as a reject names it."""
        if source.place in ("query", "path"):
            return self._paths["uri"]
        if source.place == "remote_addr":
            return self._paths["ip"]
        name = "cookie" if source.place == "cookie" else (source.name or source.place)
        return _json_path(self._key(name))

    def _first_of(self, sources: tuple[Source, ...]) -> Reader:
        """A reader of the first of ``sources`` present in a line."""
        readers = tuple(self._reader(source) for source in sources)
        if len(readers) == 1:
            return readers[0]

        def first(fields: Fields, query: str, params: Mapping[str, str]) -> str | None:
            for reader in readers:
                value = reader(fields, query, params)
                if value is not None:
                    return value
            return None

        return first

    def _reader(self, source: Source) -> Reader:
        place, name, field = source.place, source.name, self._field_of(source)
        if place in ("remote_user", "field"):
            return self._field_reader(name or place, field)
        if place == "cookie":
            header = self._field_reader("cookie", field)

            def cookie(fields: Fields, query: str, params: Mapping[str, str]) -> str | None:
                sent = header(fields, query, params)
                return None if sent is None else _present(_cookie(sent, name), field)

            return cookie
        if place == "query":
            return lambda fields, query, params: _present(_query_value(query, name), field)
        if place == "path":
            return lambda fields, query, params: _present(params.get(name), field)
        raise ConfigError("ip", "remote_addr or field:NAME", str(source))  # pragma: no cover

    def _field_reader(self, name: str, field: str) -> Reader:
        """A reader of a named field: a JSON key, or a group of the combined expression."""
        if self._json:
            key = self.routes.key(name)

            def json_field(fields: Fields, query: str, params: Mapping[str, str]) -> str | None:
                value = fields.get(key)
                if type(value) is str:  # the common case, without a call
                    return None if value in _ABSENT else value
                return _present(value, field)

            return json_field
        if name == "remote_user":

            def remote_user(fields: Fields, query: str, params: Mapping[str, str]) -> str | None:
                value: str = fields[_REMOTE_USER_GROUP]
                return None if value in _ABSENT else _unescape(value)

            return remote_user
        quoted_at = _COMBINED_GROUPS + 2 * self.routes.extra_fields.index(name)

        def extra_field(fields: Fields, query: str, params: Mapping[str, str]) -> str | None:
            value: str | None = fields[quoted_at]
            if value is None:
                value = fields[quoted_at + 1]  # written bare, or not at all
                if value is None:
                    return None
            elif "\\" in value:
                value = _unescape(value)
            return None if value in _ABSENT else value

        return extra_field

    # -- per line -----------------------------------------------------------------------

    def parse(self, lines: Iterable[LogLine]) -> Iterator[ParsedLine]:
        """One outcome per line, in order; never raises on a line's content."""
        ids = LineIds()
        times = _Times(self._time_parser, self._paths["time"])
        agents: dict[str, str] = {}
        read = self._read_json if self._json else self._read_combined
        for line in lines:
            yield read(line, ids, times, agents)

    def _read_combined(
        self, line: LogLine, ids: LineIds, times: _Times, agents: dict[str, str]
    ) -> ParsedLine:
        found = self._combined.match(line.text)
        if found is None:
            return reject(line, "not a combined log line (truncated, or another layout)")
        fields = found.groups()
        address, _, moment, request, status, _, agent = fields[:_COMBINED_GROUPS]
        if "\\" in request:
            request = _unescape(request)
        method, _, target = request.partition(" ")
        target, _, protocol = target.rpartition(" ")
        if not protocol.startswith("HTTP/") or not target:
            return Skipped(line.source, line.line, _NOT_HTTP)
        routed = self._route(method, target)
        if routed is None:
            return Skipped(line.source, line.line, _NO_ROUTE)
        agent = "" if agent == "-" else _unescape(agent)
        return self._event(
            line, ids, times, agents, routed, moment, address, int(status), agent, fields
        )

    def _read_json(
        self, line: LogLine, ids: LineIds, times: _Times, agents: dict[str, str]
    ) -> ParsedLine:
        try:
            record = msgspec.json.decode(line.text)
        except msgspec.DecodeError as error:
            return reject(line, f"not JSON: {error}")
        if not isinstance(record, dict):
            return reject(line, "expected a JSON object", "$")
        routes, paths = self.routes, self._paths
        try:
            method = self._required(record, "method")
            if "uri" in routes.fields:
                target = self._required(record, "uri")
            else:
                target = self._required(record, "path")
                query = _present(record.get(routes.key("query")), _json_path(routes.key("query")))
                target = f"{target}?{query}" if query else target
            routed = self._route(method, target)
            if routed is None:
                return Skipped(line.source, line.line, _NO_ROUTE)
            moment = record.get(routes.key("time"))
            if type(moment) is float:
                moment = repr(moment)
            moment = _present(moment, paths["time"])
            if moment is None:
                raise _LineError(paths["time"], "missing")
            status = record.get(routes.key("status"))
            if type(status) is not int:
                text = _present(status, paths["status"])
                if text is None or not (text.isascii() and text.isdigit() and len(text) == 3):
                    raise _LineError(paths["status"], "expected an HTTP status, 100 to 599")
                status = int(text)
            address = "" if self._ip is not None else self._required(record, "ip")
            agent = _present(record.get(routes.key("user_agent")), paths["user_agent"]) or ""
        except _LineError as bad:
            return reject(line, bad.message, bad.field)
        return self._event(line, ids, times, agents, routed, moment, address, status, agent, record)

    def _required(self, record: Mapping[str, Any], part: str) -> str:
        value = _present(record.get(self.routes.key(part)), self._paths[part])
        if value is None:
            raise _LineError(self._paths[part], "missing")
        return value

    def _route(self, method: str, target: str) -> _Routed | None:
        """The route a request matches, with its parameters and its query string."""
        path, _, query = target.partition("?")
        if "%" in path:
            path = unquote(path)
        matched = self.routes.match(method, path)
        if matched is None:
            return None
        return matched[0], matched[1], method, target, query

    def _event(
        self,
        line: LogLine,
        ids: LineIds,
        times: _Times,
        agents: dict[str, str],
        routed: _Routed,
        moment: str,
        address: str,
        status: int,
        agent: str,
        fields: Fields,
    ) -> ParsedLine:
        route, params, method, target, query = routed
        try:
            if not 100 <= status < STATUS_LIMIT:
                raise _LineError(self._paths["status"], "expected an HTTP status, 100 to 599")
            kind, outcome = route.decide(status)
            account = self._identifier(self._account, self._account_field, fields, query, params)
            if account is None:
                if outcome is Outcome.SUCCESS and kind is not EventKind.LOGOUT:
                    raise _LineError(self._account_field, f"no account for a successful {kind}")
                # A logout without a session, a login the portal could not read: nobody acted.
                return Skipped(line.source, line.line, _NOBODY)
            session = None
            if self._session is not None:
                session = self._identifier(
                    self._session, self._session_field, fields, query, params
                )
            plan = self._plans[id(route)]
            subject, nobody = self._subject(plan, fields, query, params)
            if nobody and kind is EventKind.RECORD_VIEW and outcome is not Outcome.REFUSED:
                outcome = Outcome.NOT_FOUND
            if kind is EventKind.RECORD_VIEW and outcome is Outcome.SUCCESS and subject is None:
                field = plan.subjects[0][2] if plan.subjects else None
                raise _LineError(field, "a successful record view names no patient")
            count = None if plan.count is None else self._count(plan.count, fields, query, params)
            if self._ip is not None:
                address = self._ip(fields, query, params) or ""
                address = address.split(",", 1)[0].strip()
            time = times(moment)
        except _LineError as bad:
            return reject(line, bad.message, bad.field)
        user_agent = agents.get(agent)
        if user_agent is None:
            user_agent = _without_nirs(agent)[:_USER_AGENT_LIMIT]
            if len(agents) >= _CACHE_LIMIT:
                agents.clear()
            agents[agent] = user_agent
        # The identifier hashes what the line says, its target's NIRs blanked: an unkeyed
        # hash of a clear NIR could be reversed by trying them all. Identical texts within
        # one moment are told apart by LineIds' rank.
        target = _without_nirs(unquote_plus(target) if "%" in target else target)
        said = (
            f"{moment}\x00{address}\x00{method} {target}\x00{status}\x00{account}"
            f"\x00{session}\x00{subject}\x00{count}\x00{user_agent}"
        )
        try:
            return Event(
                time=time,
                event_id=ids.next(moment, said),
                kind=kind,
                ip=address,
                account=account,
                session=session,
                user_agent=user_agent,
                subject=subject,
                lookup=route.lookup,
                categories=route.categories if outcome is Outcome.SUCCESS else (),
                outcome=outcome,
                result_count=count,
            )
        except ValueError as error:  # the event's own cross-field checks: "field: message"
            name, _, message = str(error).partition(": ")
            field = {"ip": self._ip_field, "time": self._paths["time"]}.get(name)
            return reject(line, message or str(error), field)

    def _identifier(
        self,
        reader: Reader,
        field: str,
        fields: Fields,
        query: str,
        params: Mapping[str, str],
    ) -> str | None:
        value = reader(fields, query, params)
        if value is None:
            return None
        if len(value) > _IDENTIFIER_LIMIT:
            raise _LineError(field, f"longer than {_IDENTIFIER_LIMIT} characters")
        if len(value) >= _NIR_LENGTH and holds_nir(value):
            raise _LineError(field, "holds a clear NIR, which no event may carry")
        return value

    def _subject(
        self, plan: _RoutePlan, fields: Fields, query: str, params: Mapping[str, str]
    ) -> tuple[str | None, bool]:
        """The patient's pseudonym, and whether a clear NIR designated nobody (invalid)."""
        for clear, reader, field in plan.subjects:
            value = reader(fields, query, params)
            if value is None:
                continue
            if not clear:
                if not is_pseudonym(value):
                    raise _LineError(field, "expected a pseudonym (ps_ and 24 base32 characters)")
                return value, False
            if self._pseudonymizer is None:
                raise _LineError(field, "a clear NIR, and no pseudonym key to replace it")
            try:
                return self._pseudonymizer.pseudonym(value), False
            except (NirError, ValueError):  # ValueError: non-ASCII digits stdnum let through
                return None, True
        return None, False

    @staticmethod
    def _count(
        place: tuple[Reader, str], fields: Fields, query: str, params: Mapping[str, str]
    ) -> int | None:
        reader, field = place
        value = reader(fields, query, params)
        if value is None:
            return None
        if not (value.isascii() and value.isdigit() and len(value) <= 18):
            raise _LineError(field, "expected a count of results (digits)")
        return int(value)


_PARTS: Final = ("time", "ip", "method", "uri", "path", "status", "user_agent", "remote_user")
_COMBINED_PATHS: Final = {
    "time": "$.time_local",
    "ip": "$.remote_addr",
    "method": "$.request",
    "uri": "$.request",
    "path": "$.request",
    "status": "$.status",
    "user_agent": "$.http_user_agent",
    "remote_user": "$.remote_user",
}


def _create(name: str, options: ParserOptions) -> AccessLogParser:
    if options.config is None:
        raise ConfigError("routes", "a route table (--routes FILE)", None)
    if not isinstance(options.config, RouteTable):
        raise ConfigError("routes", "a RouteTable", type(options.config).__name__)
    return AccessLogParser(options.config, options.pseudonymizer, name=name)


def register(registry: ParserRegistry) -> None:
    """Register the access-log parser as ``nginx`` and ``apache`` (a route table is required)."""
    for name, server in (("nginx", "nginx"), ("apache", "Apache")):
        description = f"{server} access log, combined or JSON, read by a route table (--routes)"
        registry.register(name, description, partial(_create, name))
