"""The core's departments table: read once, and never silently empty or half-read."""

from __future__ import annotations

from pathlib import Path

import pytest

from rempart.detectors.enumeration import Enumeration
from rempart.errors import InputError, RecordError
from rempart.geography import departments, neighbourhood, read_departments
from rempart.guard import Policy
from rempart.stores.memory import MemoryStore

HEADER = "code,name,region,population,communes,timezone,neighbours\n"
PARIS = "75,Paris,Île-de-France,2133000,1,Europe/Paris,92\n"
HAUTS_DE_SEINE = "92,Hauts-de-Seine,Île-de-France,1624000,36,Europe/Paris,75\n"


def _table(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "departments.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_packaged_table_lists_101_departments_with_their_neighbours() -> None:
    """The shipped table reads whole, and a neighbourhood is the department and its neighbours."""
    assert len(departments()) == 101
    assert neighbourhood("75") == {"75", "92", "93", "94"}
    assert neighbourhood("974") == {"974"}


def test_a_department_the_table_lacks_is_its_own_only_neighbour() -> None:
    """An unknown code is near itself only, not an error (a directory may hold any code)."""
    assert neighbourhood("20") == {"20"}


def test_a_missing_table_is_an_input_error_naming_the_file(tmp_path: Path) -> None:
    """A table that is not there raises `InputError` with its path, never an empty table."""
    missing = tmp_path / "departments.csv"
    with pytest.raises(InputError, match=r"departments\.csv"):
        read_departments(missing)


def test_an_empty_table_is_an_input_error(tmp_path: Path) -> None:
    """A table with its header and no row raises, never an empty tuple."""
    with pytest.raises(InputError, match="no department"):
        read_departments(_table(tmp_path, HEADER))


@pytest.mark.parametrize(
    ("text", "line", "field"),
    [
        ("code,name\n75,Paris\n", 1, None),
        (HEADER + PARIS + "92,Hauts-de-Seine,IdF,many,36,Europe/Paris,75\n", 3, None),
        (HEADER + PARIS + "00,Nowhere,None,340000,360,Europe/Paris,\n", 3, "code"),
        (HEADER + PARIS + HAUTS_DE_SEINE + PARIS, 4, "code"),
        (HEADER + PARIS.replace(",92", ",92 93") + HAUTS_DE_SEINE, 2, "neighbours"),
    ],
    ids=["header", "population", "code", "twice", "unknown-neighbour"],
)
def test_a_bad_table_is_a_record_error_located_by_line(
    tmp_path: Path, text: str, line: int, field: str | None
) -> None:
    """A wrong header, a bad value, a repeated code or an unlisted neighbour names its line."""
    with pytest.raises(RecordError) as raised:
        read_departments(_table(tmp_path, text))
    assert (raised.value.source, raised.value.line, raised.value.field) == (
        str(tmp_path / "departments.csv"),
        line,
        field,
    )


def test_a_good_table_reads_in_file_order(tmp_path: Path) -> None:
    """A well-formed table gives one record per row, neighbours as codes."""
    records = read_departments(_table(tmp_path, HEADER + PARIS + HAUTS_DE_SEINE))
    assert [(r.code, r.neighbours) for r in records] == [("75", ("92",)), ("92", ("75",))]


def test_the_enumeration_detector_stops_at_start_up_on_a_broken_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broken departments table fails the detector's construction, not every read later."""
    broken = _table(tmp_path, HEADER + "75,Paris,Île-de-France,2133000,1,Europe/Paris,99\n")
    monkeypatch.setattr(
        "rempart.detectors.enumeration.departments", lambda: read_departments(broken)
    )
    with pytest.raises(RecordError, match="99"):
        Enumeration(MemoryStore(), Policy.default(), frozenset())
