"""CSV exports read through a column mapping: the sample, bad rows, config errors, fuzzing."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rempart.errors import ConfigError
from rempart.events import DataCategory, Event, EventKind, Lookup, Outcome
from rempart.ingestion.logs import tabular
from rempart.ingestion.logs.base import (
    LogLine,
    ParsedLine,
    ParserOptions,
    ParserRegistry,
    Skipped,
    iter_log_lines,
)
from rempart.ingestion.logs.tabular import ColumnMapping, CsvParser, register
from rempart.ingestion.rejected import Rejected
from rempart.nir import make_nir
from rempart.pseudonym import Pseudonymizer
from rempart.secret import Secret

SAMPLES = Path(__file__).parent / "samples" / "csv"
PSEUDONYMIZER = Pseudonymizer(Secret(b"0123456789abcdef"))
MAPPING = ColumnMapping.from_toml(SAMPLES / "portal-export.toml")
NIR_A = make_nir(1, 1984, 5, "75056", 123)
NIR_B = make_nir(2, 1953, 7, "2B073", 4)
NIR_D = make_nir(2, 1971, 2, "13055", 812)
CLEAR_NIRS = (NIR_A, NIR_B, NIR_D)
HEADER = (SAMPLES / "portal-export.csv").read_text().splitlines()[0]
GOOD_ROW = (
    f"EV1;01/03/2024 10:02:05;CONSULT;810002909371;S-1;90.12.34.56;Firefox;{NIR_B};"
    "SAISIE;identite;OK;"
)


def _parse(
    rows: Iterable[str], mapping: ColumnMapping = MAPPING, **options: Any
) -> list[ParsedLine]:
    """Parse ``rows`` after the sample header (the header's own outcome left out)."""
    lines = [LogLine("export.csv", number, text) for number, text in enumerate([HEADER, *rows], 1)]
    header, *results = CsvParser(mapping, options.get("pseudonymizer", PSEUDONYMIZER)).parse(lines)
    assert isinstance(header, Skipped)
    return results


def _row(**cells: str) -> str:
    """The good row with some cells replaced, by header name."""
    names = HEADER.split(";")
    values = GOOD_ROW.split(";")
    for name, value in cells.items():
        values[names.index(name)] = value
    return ";".join(values)


def _leaks(results: Iterable[ParsedLine]) -> list[str]:
    found = []
    for result in results:
        if isinstance(result, Event):
            text = json.dumps(result.to_dict(), default=str)
        elif isinstance(result, Rejected):
            text = f"{result.field} {result.message} {result!r}"
        else:
            text = result.reason
        compact = re.sub(r"[ .\-]", "", text)
        found += [nir for nir in CLEAR_NIRS if nir in compact]
    return found


def test_sample_export() -> None:
    """The sample export gives its events, in UTC, the header and an unmapped action skipped."""
    unreadable: list[Rejected] = []
    lines = iter_log_lines(SAMPLES / "portal-export.csv", unreadable)
    results = list(CsvParser(MAPPING, PSEUDONYMIZER).parse(lines))
    assert unreadable == []
    assert [
        getattr(result, "reason", None) for result in results if isinstance(result, Skipped)
    ] == [
        "the header line",
        "kind 'IMPRESSION' is not mapped",
    ]
    events = [result for result in results if isinstance(result, Event)]
    assert [event.kind for event in events] == [
        EventKind.LOGIN_FAILURE,
        EventKind.LOGIN_SUCCESS,
        EventKind.RECORD_VIEW,
        EventKind.RECORD_VIEW,
        EventKind.SEARCH,
        EventKind.RECORD_VIEW,
        EventKind.LOGOUT,
        EventKind.RECORD_VIEW,
    ]
    failure, login, typed, card, search, not_found, _, summer = events
    assert failure.time == datetime(2024, 3, 1, 8, 58, 12, tzinfo=UTC)  # Paris, winter: UTC+1
    assert summer.time == datetime(2024, 7, 14, 6, 5, tzinfo=UTC)  # Paris, summer: UTC+2
    assert (failure.outcome, failure.session) == (Outcome.FAILURE, None)
    assert login.user_agent == "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/123.0"
    assert login.event_id == "EV000102"
    assert (typed.subject, typed.lookup) == (PSEUDONYMIZER.pseudonym(NIR_B), Lookup.TYPED_NIR)
    assert typed.categories == (DataCategory.IDENTITY, DataCategory.BIRTH_DATE, DataCategory.RIGHTS)
    assert card.subject == PSEUDONYMIZER.pseudonym(NIR_A)  # written with spaces in the export
    assert card.categories == MAPPING.read_categories
    assert (search.result_count, search.lookup) == (12, Lookup.SEARCH)
    assert (not_found.outcome, not_found.subject, not_found.categories) == (
        Outcome.NOT_FOUND,
        None,
        (),
    )
    assert (summer.subject, summer.lookup) == (PSEUDONYMIZER.pseudonym(NIR_D), Lookup.LINK)
    assert _leaks(results) == []


def test_docstring_mapping_is_valid() -> None:
    """The complete mapping shown in the module docstring loads."""
    doc = tabular.__doc__ or ""
    block = doc.split("TOML (`ColumnMapping.from_toml`)::\n\n")[1].split("\n\nRules")[0]
    mapping = ColumnMapping.from_toml_text("\n".join(line[4:] for line in block.splitlines()))
    assert mapping.delimiter == ";"
    assert mapping.kind_values["CONSULT"] is EventKind.RECORD_VIEW
    assert set(mapping.columns) == set(tabular.COLUMN_FIELDS)


@pytest.mark.parametrize(
    ("cells", "column", "message"),
    [
        ({"date_heure": "2024-03-01 10:02"}, "date_heure", "not a time in the format"),
        ({"date_heure": ""}, "date_heure", "empty"),
        ({"adresse_ip": "portail.example.fr"}, "adresse_ip", "not an IPv4 or IPv6 address"),
        ({"nir_patient": NIR_B[:-2] + "00"}, "nir_patient", "invalid NIR (InvalidChecksum)"),
        ({"resultat": "PEUT-ETRE"}, "resultat", "not a known outcome value"),
        ({"mode_acces": "DEVINE"}, "mode_acces", "not a known lookup value"),
        ({"donnees": "identite|opinions"}, "donnees", "not a known categories value"),
        ({"nb_resultats": "-3"}, "nb_resultats", "not a whole number"),
        ({"nb_resultats": "9" * 5000}, "nb_resultats", "not a whole number"),
        ({"identifiant": "x" * 129}, "identifiant", "longer than 128 characters"),
        ({"id": "y" * 129}, "id", "longer than 128 characters"),
        ({"nir_patient": ""}, "nir_patient", "a successful record_view needs a subject"),
        ({"identifiant": ""}, "identifiant", "required for kind 'record_view'"),
    ],
)
def test_bad_cells_located_by_column(cells: dict[str, str], column: str, message: str) -> None:
    """A bad cell rejects its row, located at the line, the field being the column's name."""
    [result] = _parse([_row(**cells)])
    assert isinstance(result, Rejected)
    assert (result.line, result.field) == (2, column)
    assert message in result.message


def test_malformed_rows_rejected() -> None:
    """A field count unlike the header's, or a quoted field running past the line, is rejected."""
    results = _parse([GOOD_ROW + ";extra", 'EV2;"01/03/2024 10:02:05', "", GOOD_ROW])
    first, second, third, fourth = results
    assert isinstance(first, Rejected)
    assert first.message == "13 fields where the header has 12"
    assert isinstance(second, Rejected)
    assert (second.line, second.message) == (3, "a quoted field runs past the end of the line")
    assert isinstance(third, Rejected)
    assert isinstance(fourth, Event)


def test_clear_nir_never_written() -> None:
    """A clear NIR is pseudonymised, redacted from messages, and rejected without a key."""
    results = _parse(
        [
            GOOD_ROW,
            _row(nir_patient=NIR_A[:-2] + "00"),
            _row(action=NIR_D),
            _row(resultat=NIR_A),
            _row(date_heure=NIR_B),
        ]
    )
    assert isinstance(results[0], Event)
    assert all(not isinstance(result, Event) for result in results[1:])
    assert _leaks(results) == []
    [rejected] = _parse([GOOD_ROW], pseudonymizer=None)
    assert isinstance(rejected, Rejected)
    assert rejected.field == "nir_patient"
    assert _leaks([rejected]) == []


@pytest.mark.parametrize("column", ["identifiant", "session", "navigateur", "id"])
def test_nir_outside_subject_rejected(column: str) -> None:
    """A valid NIR in any cell but the subject rejects the row, the number quoted nowhere."""
    [result] = _parse([_row(**{column: f"x {NIR_A[:5]}-{NIR_A[5:]}"})])
    assert isinstance(result, Rejected)
    assert (result.field, result.message) == (column, "holds a clear NIR (is the mapping right?)")


def test_nir_in_other_values_never_quoted() -> None:
    """A NIR in an unmapped kind or an unknown outcome is not quoted, whatever its separators."""
    spelled = "+".join([NIR_B[:1], NIR_B[1:3], NIR_B[3:5], NIR_B[5:]])
    skipped, rejected = _parse([_row(action=spelled), _row(resultat=spelled)])
    assert isinstance(skipped, Skipped)
    assert skipped.reason == "kind (a NIR-like value) is not mapped"
    assert isinstance(rejected, Rejected)
    assert spelled not in rejected.message
    assert _leaks([skipped, rejected]) == []


def test_subject_ignored_outside_reads() -> None:
    """A patient cell on a login row is neither read nor checked."""
    [event] = _parse([_row(action="CNX_OK", nir_patient="garbage")])
    assert isinstance(event, Event)
    assert event.subject is None


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        ("31/03/2024 01:59:59", datetime(2024, 3, 31, 0, 59, 59, tzinfo=UTC)),
        ("31/03/2024 03:00:00", datetime(2024, 3, 31, 1, 0, tzinfo=UTC)),
        ("27/10/2024 02:30:00", datetime(2024, 10, 27, 0, 30, tzinfo=UTC)),  # first occurrence
        ("27/10/2024 03:30:00", datetime(2024, 10, 27, 2, 30, tzinfo=UTC)),
    ],
)
def test_local_times_around_clock_changes(written: str, utc: datetime) -> None:
    """Paris times convert to UTC across the clock changes; a repeated hour takes its first."""
    [event] = _parse([_row(date_heure=written)])
    assert isinstance(event, Event)
    assert event.time == utc


def test_skipped_hour_rejected() -> None:
    """A Paris wall-clock time skipped when clocks go forward is rejected."""
    [result] = _parse([_row(date_heure="31/03/2024 02:30:00")])
    assert isinstance(result, Rejected)
    assert (result.field, result.message) == (
        "date_heure",
        "a local time that does not exist (clocks went forward)",
    )


@pytest.mark.parametrize(
    ("time_format", "written", "utc"),
    [
        ("iso", "2024-03-01T10:00:00+01:00", datetime(2024, 3, 1, 9, tzinfo=UTC)),
        ("iso", "2024-03-01T10:00:00Z", datetime(2024, 3, 1, 10, tzinfo=UTC)),
        ("iso", "2024-03-01 10:00:00", datetime(2024, 3, 1, 9, tzinfo=UTC)),
        ("epoch", "1709283600", datetime(2024, 3, 1, 9, tzinfo=UTC)),
        ("epoch", "1709283600.5", datetime(2024, 3, 1, 9, 0, 0, 500_000, tzinfo=UTC)),
        ("%Y%m%d%H%M%S%z", "20240301100000+0100", datetime(2024, 3, 1, 9, tzinfo=UTC)),
    ],
)
def test_time_formats(time_format: str, written: str, utc: datetime) -> None:
    """ISO times (with or without offset), epoch seconds and strptime formats all land in UTC."""
    mapping = ColumnMapping(
        {"time": 0, "kind": 1, "ip": 2, "account": 3},
        header=False,
        time_format=time_format,
        timezone="Europe/Paris",
    )
    lines = [LogLine("x.csv", 1, f"{written},login_success,10.0.0.1,A1")]
    [event] = CsvParser(mapping).parse(lines)
    assert isinstance(event, Event)
    assert event.time == utc


def test_without_header_columns_are_indexes() -> None:
    """Without a header, columns are 0-based indexes and rejects name them ``column N``."""
    mapping = ColumnMapping({"time": 0, "kind": 1, "ip": 2, "account": 4}, header=False)
    lines = [
        LogLine("x.csv", 1, "2024-03-01T10:00:00Z,logout,10.0.0.1,,A1"),
        LogLine("x.csv", 2, "2024-03-01T10:00:00Z,logout,10.0.0.x,,A1"),
        LogLine("x.csv", 3, "2024-03-01T10:00:00Z,logout,10.0.0.1"),
    ]
    event, bad_ip, short = CsvParser(mapping).parse(lines)
    assert isinstance(event, Event)
    assert event.account == "A1"
    assert isinstance(bad_ip, Rejected)
    assert bad_ip.field == "column 2"
    assert isinstance(short, Rejected)
    assert short.field == "column 4"


def test_header_of_each_file() -> None:
    """Each file's first line is its header; a header lacking a mapped column rejects its rows."""
    lines = [
        LogLine("a.csv", 1, HEADER),
        LogLine("a.csv", 2, GOOD_ROW),
        LogLine("b.csv", 1, HEADER.replace("adresse_ip", "ip")),
        LogLine("b.csv", 2, GOOD_ROW),
        LogLine("c.csv", 1, "\ufeff" + HEADER),
        LogLine("c.csv", 2, GOOD_ROW),
    ]
    results = list(CsvParser(MAPPING, PSEUDONYMIZER).parse(lines))
    kinds = [type(result).__name__ for result in results]
    assert kinds == ["Skipped", "Event", "Rejected", "Rejected", "Skipped", "Event"]
    header, row = results[2], results[3]
    assert isinstance(header, Rejected)
    assert isinstance(row, Rejected)
    assert (header.line, header.field) == (1, "adresse_ip")
    assert (row.line, row.message) == (2, header.message)


def test_kind_without_value_table() -> None:
    """Without a kind table, Rempart's own kind names are read and others skipped."""
    mapping = ColumnMapping({"time": 0, "kind": 1, "ip": 2, "account": 3}, header=False)
    lines = [
        LogLine("x.csv", 1, "2024-03-01T10:00:00Z,mfa_success,10.0.0.1,A1"),
        LogLine("x.csv", 2, f"2024-03-01T10:00:00Z,{NIR_A},10.0.0.1,A1"),
    ]
    event, skipped = CsvParser(mapping).parse(lines)
    assert isinstance(event, Event)
    assert event.kind is EventKind.MFA_SUCCESS
    assert isinstance(skipped, Skipped)
    assert _leaks([skipped]) == []


def test_event_ids_without_column() -> None:
    """Without an id column, identical rows get distinct ids, the same on every reading."""
    mapping = ColumnMapping({"time": 0, "kind": 1, "ip": 2, "account": 3}, header=False)
    lines = [LogLine("x.csv", n, "2024-03-01T10:00:00Z,logout,10.0.0.1,A1") for n in (1, 2)]
    first = [getattr(result, "event_id", None) for result in CsvParser(mapping).parse(lines)]
    again = [getattr(result, "event_id", None) for result in CsvParser(mapping).parse(lines)]
    assert first == again
    assert len(set(first)) == 2


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("colour = 1", "colour"),
        ("[columns]\ntime = 'a'\nkind = 'b'", "columns.ip"),
        ("[columns]\ntime = 'a'\nkind = 'b'\nip = 'c'\nmood = 'd'", "columns.mood"),
        ("[columns]\ntime = 'a'\nkind = 'b'\nip = -1", "columns.ip"),
        ("header = false\n[columns]\ntime = 'a'\nkind = 1\nip = 2", "columns.time"),
        ("delimiter = ';;'\n[columns]\ntime = 'a'\nkind = 'b'\nip = 'c'", "delimiter"),
        ("header = 'yes'\n[columns]\ntime = 'a'\nkind = 'b'\nip = 'c'", "header"),
        ("time_format = 'dd/mm'\n[columns]\ntime = 'a'\nkind = 'b'\nip = 'c'", "time_format"),
        ("timezone = 'Mars/Olympus'\n[columns]\ntime = 'a'\nkind = 'b'\nip = 'c'", "timezone"),
        (
            "delimiter = '|'\n[columns]\ntime = 'a'\nkind = 'b'\nip = 'c'",
            "categories_separator",
        ),
        ("read_categories = ['gossip']\n[columns]\ntime = 'a'\nkind = 'b'\nip = 'c'", "read_"),
        (
            "[columns]\ntime = 'a'\nkind = 'b'\nip = 'c'\n[values]\nkind = {X = 'teleport'}",
            "kind.X",
        ),
        ("[columns]\ntime = 'a'\nkind = 'b'\nip = 'c'\n[values]\ncolour = {}", "values.colour"),
        ("[columns", "mapping"),
    ],
)
def test_bad_mapping_names_key(toml: str, key: str) -> None:
    """An invalid mapping raises ConfigError naming the TOML key at fault."""
    with pytest.raises(ConfigError) as raised:
        ColumnMapping.from_toml_text(toml)
    assert key in raised.value.key


def test_unreadable_mapping_file(tmp_path: Path) -> None:
    """A missing mapping file is a ConfigError, not an OSError."""
    with pytest.raises(ConfigError, match="mapping"):
        ColumnMapping.from_toml(tmp_path / "absent.toml")


def test_registered_by_name() -> None:
    """``register`` adds the ``csv`` format, which needs a ColumnMapping as its config."""
    registry = ParserRegistry()
    register(registry)
    parser = registry.create("csv", ParserOptions(pseudonymizer=PSEUDONYMIZER, config=MAPPING))
    assert parser.name == "csv"
    with pytest.raises(ConfigError, match="mapping"):
        registry.create("csv", ParserOptions())


def _check(results: list[ParsedLine]) -> None:
    for result in results:
        assert isinstance(result, Event | Rejected | Skipped)
        if isinstance(result, Event):
            assert Event.from_dict(result.to_dict()) == result
    assert _leaks(results) == []


_CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["CONSULT", "CNX_OK", "RECHERCHE", "OK", "KO", "SAISIE", "identite|droits", NIR_B, "12"]
    ),
    st.sampled_from(["01/03/2024 10:02:05", "31/03/2024 02:30:00", "90.12.34.56", "::1"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_CELL, min_size=10, max_size=13), max_size=6))
def test_arbitrary_rows_never_raise(rows: list[list[str]]) -> None:
    """Rows of arbitrary cells give only events, rejects and skips, and the events are valid."""
    _check(_parse([";".join(cells) for cells in rows]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=80), max_size=6))
def test_arbitrary_lines_never_raise(texts: list[str]) -> None:
    """Arbitrary text, header included, never raises."""
    lines = [LogLine("x.csv", number, text) for number, text in enumerate(texts, 1)]
    _check(list(CsvParser(MAPPING, PSEUDONYMIZER).parse(lines)))
