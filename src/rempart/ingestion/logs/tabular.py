"""CSV exports of a portal's access log, read through a declared column mapping.

Portals without a structured log can usually export one as CSV (a database
extract, a SIEM report). `CsvParser` reads such a file one line at a time with
the standard library's ``csv`` module, guided by a `ColumnMapping`: which
column holds each event field, how the values are spelled, and how times are
written. Each row gives an `Event`, a `Rejected` whose ``field`` is the column
name, or a `Skipped` (the header, a kind the mapping does not list). A quoted
field spanning lines is not read: the row is rejected, located.

A complete mapping, in TOML (`ColumnMapping.from_toml`)::

    delimiter = ";"                        # one character; "," by default
    header = true                          # columns named by the first line of each file
    time_format = "%d/%m/%Y %H:%M:%S"      # a strptime format, "iso" or "epoch" (seconds)
    timezone = "Europe/Paris"              # of times written without an offset; "UTC" by default
    categories_separator = "|"             # between the categories of one cell
    read_categories = ["identity", "birth_date", "sex", "nir", "rights"]

    [columns]                              # event field = column name (or 0-based index)
    time = "date_heure"                    # required
    kind = "action"                        # required
    ip = "adresse_ip"                      # required
    account = "identifiant"
    session = "session"
    user_agent = "navigateur"
    subject = "nir_patient"                # a clear NIR (pseudonymised at once) or a ps_ pseudonym
    lookup = "mode_acces"
    categories = "donnees"
    outcome = "resultat"
    result_count = "nb_resultats"
    event_id = "id"                        # without it, a digest of the line (`LineIds`)

    [values]                               # how the export spells each value
    kind = {"CNX_OK" = "login_success", "CNX_KO" = "login_failure", "CONSULT" = "record_view"}
    outcome = {"OK" = "success", "KO" = "failure", "INCONNU" = "not_found"}
    lookup = {"CARTE" = "card", "SAISIE" = "typed_nir", "RECHERCHE" = "search"}
    categories = {"identite" = "identity", "naissance" = "birth_date", "droits" = "rights"}

Rules, per row:

* A kind absent from ``values.kind`` (or, without that table, not an event
  kind's own name) is `Skipped`: exports hold actions the guard does not watch.
  Any other value absent from its table is a reject.
* A time without an offset is in ``timezone``; a wall-clock time that does not
  exist there (the hour skipped in spring) is a reject, an ambiguous one (the
  hour repeated in autumn) is taken at its first occurrence. Times are stored
  in UTC.
* Empty cells mean: no account, session or subject; outcome ``success``;
  lookup ``typed_nir`` for a read and ``search`` for a search; for a
  successful read, the categories ``read_categories``. The subject is read only
  for reads and searches. A user agent longer than 1024 characters is cut.
* Only the subject may hold a NIR: any other cell holding a valid one rejects
  the row (it is a mapping mistake, and the clear number is stored nowhere).
* With a header, a row must have as many fields as the header (a value holding
  an unquoted delimiter would otherwise shift every column after it).

>>> mapping = ColumnMapping.from_toml_text('''
... delimiter = ";"
... [columns]
... time = "quand"
... kind = "quoi"
... ip = "ip"
... account = "qui"
... ''')
>>> lines = [LogLine("x.csv", 1, "quand;quoi;ip;qui"),
...          LogLine("x.csv", 2, "2024-03-01T10:00:00+01:00;login_success;10.0.0.1;A1")]
>>> header, event = CsvParser(mapping).parse(lines)
>>> header.reason, event.kind.value, event.account, event.time.isoformat()
('the header line', 'login_success', 'A1', '2024-03-01T09:00:00+00:00')
"""

from __future__ import annotations

import csv
import ipaddress
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

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
from rempart.ingestion.rejected import redact, rejected_from_error
from rempart.nir import holds_nir
from rempart.pseudonym import Pseudonymizer, is_pseudonym
from rempart.tomlconfig import parse_toml, read_toml

__all__ = ["COLUMN_FIELDS", "ColumnMapping", "CsvParser", "register"]

COLUMN_FIELDS: Final = (
    "time",
    "kind",
    "ip",
    "account",
    "session",
    "user_agent",
    "subject",
    "lookup",
    "categories",
    "outcome",
    "result_count",
    "event_id",
)
"""The event fields a column may hold, the first three required."""

_REQUIRED: Final = ("time", "kind", "ip")
_IDENTIFIER_LIMIT: Final = 128
_USER_AGENT_LIMIT: Final = 1024
_READ_KINDS: Final = frozenset({EventKind.RECORD_VIEW, EventKind.SEARCH})
_DEFAULT_LOOKUP: Final = {EventKind.RECORD_VIEW: Lookup.TYPED_NIR, EventKind.SEARCH: Lookup.SEARCH}
_TOP_KEYS: Final = (
    "delimiter",
    "header",
    "time_format",
    "timezone",
    "categories_separator",
    "read_categories",
    "columns",
    "values",
)
_Member = TypeVar("_Member", bound=StrEnum)
_VALUE_TABLES: Final = {
    "kind": EventKind,
    "outcome": Outcome,
    "lookup": Lookup,
    "categories": DataCategory,
}


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """Where a CSV export keeps each event field, and how it spells values and times.

    ``columns`` maps an event field (`COLUMN_FIELDS`) to a column: its name
    in the header, or its 0-based index (the only form without a header).
    ``kind_values``, ``outcome_values``, ``lookup_values`` and
    ``category_values`` map the export's spellings to Rempart's (empty: the
    export already writes Rempart's own). ``time_format`` is ``"iso"``,
    ``"epoch"`` or a `datetime.strptime` format; ``timezone`` an IANA zone
    for times without an offset. ``read_categories`` are the data a
    successful read returned when the row does not say. Invalid values raise
    `ConfigError` naming the TOML key.

    >>> ColumnMapping({"time": 0, "kind": 1}, header=False)
    Traceback (most recent call last):
      ...
    rempart.errors.ConfigError: columns.ip: expected a column name or a 0-based index, got None
    """

    columns: Mapping[str, str | int]
    delimiter: str = ","
    header: bool = True
    time_format: str = "iso"
    timezone: str = "UTC"
    categories_separator: str = "|"
    kind_values: Mapping[str, EventKind] = field(default_factory=dict)
    outcome_values: Mapping[str, Outcome] = field(default_factory=dict)
    lookup_values: Mapping[str, Lookup] = field(default_factory=dict)
    category_values: Mapping[str, DataCategory] = field(default_factory=dict)
    read_categories: tuple[DataCategory, ...] = (
        DataCategory.IDENTITY,
        DataCategory.BIRTH_DATE,
        DataCategory.SEX,
        DataCategory.NIR,
        DataCategory.RIGHTS,
    )

    def __post_init__(self) -> None:
        if not isinstance(self.columns, Mapping):
            raise ConfigError("columns", "a table of event field = column", self.columns)
        for name, column in self.columns.items():
            if name not in COLUMN_FIELDS:
                raise ConfigError(f"columns.{name}", f"one of {', '.join(COLUMN_FIELDS)}", name)
            valid = isinstance(column, str) and column.strip() != ""
            if isinstance(column, int) and not isinstance(column, bool) and column >= 0:
                valid = True
            if not valid or (isinstance(column, str) and not self.header):
                expected = "a 0-based index (header = false)" if not self.header else None
                raise ConfigError(
                    f"columns.{name}", expected or "a column name or a 0-based index", column
                )
        for name in _REQUIRED:
            if name not in self.columns:
                raise ConfigError(f"columns.{name}", "a column name or a 0-based index", None)
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))
        if not isinstance(self.delimiter, str) or len(self.delimiter) != 1:
            raise ConfigError("delimiter", "a single character", self.delimiter)
        if self.delimiter in ('"', "\r", "\n"):
            raise ConfigError("delimiter", "a character other than a quote or a newline", "")
        if not isinstance(self.header, bool):
            raise ConfigError("header", "true or false", self.header)
        time_format = self.time_format
        if not isinstance(time_format, str) or (
            time_format not in ("iso", "epoch") and "%" not in time_format
        ):
            raise ConfigError("time_format", '"iso", "epoch" or a strptime format', time_format)
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ConfigError(
                "timezone", "an IANA time zone such as Europe/Paris", self.timezone
            ) from None
        separator = self.categories_separator
        if not isinstance(separator, str) or not separator or separator == self.delimiter:
            raise ConfigError(
                "categories_separator", "a non-empty string other than the delimiter", separator
            )
        for table, attribute in (
            ("kind", "kind_values"),
            ("outcome", "outcome_values"),
            ("lookup", "lookup_values"),
            ("categories", "category_values"),
        ):
            object.__setattr__(self, attribute, _value_table(table, getattr(self, attribute)))
        read_categories = self.read_categories
        if isinstance(read_categories, str) or not isinstance(read_categories, Iterable):
            raise ConfigError("read_categories", "a list of data categories", read_categories)
        object.__setattr__(
            self,
            "read_categories",
            tuple(
                _member(DataCategory, value, f"read_categories[{index}]")
                for index, value in enumerate(read_categories)
            ),
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> ColumnMapping:
        """Load a mapping file; `ConfigError` names the bad key."""
        return cls.from_dict(read_toml(path, "mapping"))

    @classmethod
    def from_toml_text(cls, text: str, source: str = "<mapping>") -> ColumnMapping:
        """Validate a mapping written in TOML (the layout of this module's docstring)."""
        return cls.from_dict(parse_toml(text, "mapping", source))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnMapping:
        """Validate a mapping given as nested tables, as TOML decodes."""
        for key in data:
            if key not in _TOP_KEYS:
                raise ConfigError(key, f"one of {', '.join(_TOP_KEYS)}", key)
        values = data.get("values", {})
        if not isinstance(values, Mapping):
            raise ConfigError("values", "a table of value tables", values)
        for key in values:
            if key not in _VALUE_TABLES:
                raise ConfigError(f"values.{key}", f"one of {', '.join(_VALUE_TABLES)}", key)
        options = {key: data[key] for key in _TOP_KEYS[:6] if key in data}
        return cls(
            columns=data.get("columns", {}),
            kind_values=values.get("kind", {}),
            outcome_values=values.get("outcome", {}),
            lookup_values=values.get("lookup", {}),
            category_values=values.get("categories", {}),
            **options,
        )


class CsvParser:
    """Reads a CSV export through a `ColumnMapping`, one line per row.

    ``pseudonymizer`` turns a clear NIR of the subject column into its
    pseudonym (without one, a row with a clear NIR is a reject).
    """

    name = "csv"

    def __init__(self, mapping: ColumnMapping, pseudonymizer: Pseudonymizer | None = None) -> None:
        self._mapping = mapping
        self._pseudonymizer = pseudonymizer
        self._parse_time = _time_parser(mapping.time_format, ZoneInfo(mapping.timezone))
        # Without a header the layout is the same for every file: decide it once.
        self._fixed = None if mapping.header else _Layout.of_indexes(mapping.columns)

    @classmethod
    def from_options(cls, options: ParserOptions) -> CsvParser:
        """The parser for `ParserOptions`, whose ``config`` must be a `ColumnMapping`."""
        if not isinstance(options.config, ColumnMapping):
            raise ConfigError(
                "mapping",
                "a column mapping (ColumnMapping.from_toml) for the csv format",
                type(options.config).__name__,
            )
        return cls(options.config, options.pseudonymizer)

    def parse(self, lines: Iterable[LogLine]) -> Iterator[ParsedLine]:
        """One outcome per line; the first line of each file is its header when declared."""
        ids = LineIds()
        source: str | None = None
        layout = self._fixed or _Layout.broken("no header read", None)
        for line in lines:
            if line.source != source:
                source = line.source
                if self._fixed is None:
                    layout, outcome = self._header(line)
                    yield outcome
                    continue
            yield self._row(line, layout, ids)

    def _header(self, line: LogLine) -> tuple[_Layout, ParsedLine]:
        try:
            names = [name.strip() for name in self._cells(line.text)]
        except csv.Error as error:
            message = f"the header is not a CSV row: {error}"
            return _Layout.broken(message, None), reject(line, message)
        if names:
            names[0] = names[0].removeprefix("\ufeff")  # the byte-order mark spreadsheets add
        layout = _Layout.of_header(self._mapping.columns, names)
        if layout.problem is not None:
            message, column = layout.problem
            return layout, reject(line, message, column)
        return layout, Skipped(line.source, line.line, "the header line")

    def _cells(self, text: str) -> list[str]:
        rows = csv.reader([text], delimiter=self._mapping.delimiter, quotechar='"', strict=True)
        return next(rows, [])

    def _row(self, line: LogLine, layout: _Layout, ids: LineIds) -> ParsedLine:
        if layout.problem is not None:
            return reject(line, layout.problem[0], layout.problem[1])
        try:
            cells = self._cells(line.text)
        except csv.Error as error:
            if "unexpected end of data" in str(error):
                return reject(line, "a quoted field runs past the end of the line")
            return reject(line, f"not a CSV row: {error}")
        if layout.width is not None and len(cells) != layout.width:
            return reject(line, f"{len(cells)} fields where the header has {layout.width}")
        if len(cells) <= layout.last:
            missing = max(layout.index, key=lambda name: layout.index[name])
            return reject(line, f"{len(cells)} fields, too few", layout.labels[missing])
        row = _Row(line, cells, layout)
        try:
            return self._event(row, ids)
        except _BadCell as bad:
            column = None if bad.field is None else layout.labels.get(bad.field, bad.field)
            return reject(line, bad.message, column)

    def _event(self, row: _Row, ids: LineIds) -> ParsedLine:
        mapping = self._mapping
        kind_text = row.get("kind")
        kind = (
            mapping.kind_values.get(kind_text)
            if mapping.kind_values
            else _enum_or_none(EventKind, kind_text)
        )
        if kind is None:
            shown = _shown(kind_text)
            return Skipped(row.line.source, row.line.line, f"kind {shown} is not mapped")
        time_text = row.get("time")
        if not time_text:
            raise _BadCell("time", "empty")
        time = self._parse_time(time_text)
        ip_text = row.get("ip")
        try:
            ip = str(ipaddress.ip_address(ip_text))
        except ValueError:
            raise _BadCell("ip", "not an IPv4 or IPv6 address") from None
        outcome_text = row.get("outcome")
        outcome = (
            _look_up(mapping.outcome_values, Outcome, outcome_text, "outcome")
            if outcome_text
            else Outcome.SUCCESS
        )
        fields: dict[str, Any] = {
            "time": time,
            "event_id": row.bounded("event_id") or ids.next(time_text, row.line.text),
            "kind": kind.value,
            "ip": ip,
            "outcome": outcome.value,
        }
        for name in ("account", "session"):
            if value := row.bounded(name):
                fields[name] = value
        if user_agent := row.bounded("user_agent", limit=64 * 1024):
            fields["user_agent"] = user_agent[:_USER_AGENT_LIMIT]
        if count_text := row.get("result_count"):
            if not count_text.isdigit() or not count_text.isascii() or len(count_text) > 18:
                raise _BadCell("result_count", "not a whole number below 10**18")
            fields["result_count"] = int(count_text)
        categories = self._categories(row.get("categories"))
        if kind in _READ_KINDS:
            fields["subject"] = self._subject(row.get("subject"))
            lookup_text = row.get("lookup")
            fields["lookup"] = (
                _look_up(mapping.lookup_values, Lookup, lookup_text, "lookup")
                if lookup_text
                else _DEFAULT_LOOKUP[kind]
            ).value
            if not categories and kind is EventKind.RECORD_VIEW and outcome is Outcome.SUCCESS:
                categories = mapping.read_categories
        fields["categories"] = [category.value for category in categories]
        try:
            return msgspec.convert(fields, Event)
        except msgspec.ValidationError as error:
            rejected = rejected_from_error(
                error, source=row.line.source, line=row.line.line, raw=row.line.text
            )
            name = (rejected.field or "$").removeprefix("$").lstrip(".").split(".")[0]
            raise _BadCell(name.split("[")[0] or None, rejected.message) from None

    def _categories(self, text: str) -> tuple[DataCategory, ...]:
        parts = [part.strip() for part in text.split(self._mapping.categories_separator)]
        return tuple(
            _look_up(self._mapping.category_values, DataCategory, part, "categories")
            for part in parts
            if part
        )

    def _subject(self, text: str) -> str | None:
        if not text:
            return None
        if is_pseudonym(text):
            return text
        if self._pseudonymizer is None:
            raise _BadCell("subject", "a clear NIR, and no pseudonymisation key to replace it")
        try:
            return self._pseudonymizer.pseudonym(text)
        except NirError as error:
            raise _BadCell("subject", str(error)) from None


def register(registry: ParserRegistry) -> None:
    """Register the ``csv`` format (`CsvParser`; ``config``: a `ColumnMapping`)."""
    registry.register(
        "csv", "CSV export, columns declared by a TOML mapping", CsvParser.from_options
    )


class _BadCell(Exception):  # noqa: N818 (internal control flow, never escapes the parser)
    """A cell that cannot be read: caught in `CsvParser._row` and turned into a reject."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where each mapped field sits in a file's rows, or why that file's rows cannot be read."""

    index: Mapping[str, int]
    labels: Mapping[str, str]
    width: int | None
    last: int
    problem: tuple[str, str | None] | None = None

    @classmethod
    def of_indexes(cls, columns: Mapping[str, str | int]) -> _Layout:
        index = {name: int(column) for name, column in columns.items()}
        labels = {name: f"column {column}" for name, column in index.items()}
        return cls(index, labels, None, max(index.values()))

    @classmethod
    def of_header(cls, columns: Mapping[str, str | int], names: list[str]) -> _Layout:
        index: dict[str, int] = {}
        for name, column in columns.items():
            if isinstance(column, int):
                if column >= len(names):
                    return cls.broken(f"the header has no column {column} (for {name})", name)
                index[name] = column
            elif column in names:
                index[name] = names.index(column)
            else:
                return cls.broken(f"column {column!r} (for {name}) is not in the header", column)
        labels = {name: names[at] or f"column {at}" for name, at in index.items()}
        return cls(index, labels, len(names), max(index.values()))

    @classmethod
    def broken(cls, message: str, column: str | None) -> _Layout:
        return cls({}, {}, None, 0, (redact(message), column))


class _Row:
    """One row's cells, read by event field."""

    __slots__ = ("cells", "layout", "line")

    def __init__(self, line: LogLine, cells: list[str], layout: _Layout) -> None:
        self.line = line
        self.cells = cells
        self.layout = layout

    def get(self, name: str) -> str:
        """The cell of field ``name``, stripped; empty when the field has no column."""
        at = self.layout.index.get(name)
        return "" if at is None else self.cells[at].strip()

    def bounded(self, name: str, limit: int = _IDENTIFIER_LIMIT) -> str:
        """The cell of a free-text field: at most ``limit`` characters, no clear NIR in it."""
        value = self.get(name)
        if len(value) > limit:
            raise _BadCell(name, f"longer than {limit} characters")
        if holds_nir(value):  # the subject is pseudonymised; no other cell may hold one
            raise _BadCell(name, "holds a clear NIR (is the mapping right?)")
        return value


def _time_parser(time_format: str, zone: tzinfo) -> Callable[[str], datetime]:
    """The function reading a time cell, chosen once for the format."""

    def localise(moment: datetime) -> datetime:
        if moment.tzinfo is not None:
            return moment.astimezone(UTC)
        local = moment.replace(tzinfo=zone)
        utc = local.astimezone(UTC)
        # A wall-clock time skipped by a change to summer time does not come back the same.
        if utc.astimezone(zone).replace(tzinfo=None) != moment:
            raise _BadCell("time", "a local time that does not exist (clocks went forward)")
        return utc

    def parse(text: str) -> datetime:
        try:
            if time_format == "iso":
                moment = datetime.fromisoformat(text)
            elif time_format == "epoch":
                moment = datetime.fromtimestamp(float(text), UTC)
            else:
                moment = datetime.strptime(text, time_format)
            return localise(moment)
        except (ValueError, OverflowError, OSError):
            raise _BadCell("time", f"not a time in the format {time_format!r}") from None

    return parse


def _shown(value: str) -> str:
    """A cell's value as an error message may quote it: cut, and never a NIR."""
    return "(a NIR-like value)" if holds_nir(value) else repr(redact(value[:40]))


def _enum_or_none(kind: type[_Member], value: str) -> _Member | None:
    try:
        return kind(value)
    except ValueError:
        return None


def _look_up(table: Mapping[str, _Member], kind: type[_Member], value: str, name: str) -> _Member:
    found = table.get(value) if table else _enum_or_none(kind, value)
    if found is None:
        raise _BadCell(name, f"{_shown(value)} is not a known {name} value")
    return found


def _member(kind: type[_Member], value: object, key: str) -> _Member:
    if isinstance(value, str):
        found = _enum_or_none(kind, value)
        if found is not None:
            return found
    raise ConfigError(key, f"one of {', '.join(member.value for member in kind)}", value)


def _value_table(table: str, values: object) -> Mapping[str, Any]:
    if not isinstance(values, Mapping):
        raise ConfigError(f"values.{table}", "a table of spelling = value", values)
    kind = _VALUE_TABLES[table]
    return MappingProxyType(
        {
            str(spelling): _member(kind, value, f"values.{table}.{spelling}")
            for spelling, value in values.items()
        }
    )
