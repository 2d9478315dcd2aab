"""French departments: codes, names, populations, time zones and land neighbours.

The guard asks which departments are near a site (a patient from far away,
unexplained, is a sign of a sweep); the testbed shapes its world with the
rest. One packaged table, ``rempart/data/departments.csv`` (its columns are
described in ``docs/testbed-geography.md``), read once and cached.

A missing, empty or malformed table is an error, never an empty table: with
no neighbourhoods every patient would look far away. A file that cannot be
read raises `InputError`; a bad row, or a neighbour the table does not list,
a `RecordError` located by line.

>>> department("2A").name
'Corse-du-Sud'
>>> is_overseas("974")
True
>>> sorted(neighbourhood("2A")), neighbourhood("00")
(['2A', '2B'], frozenset({'00'}))
"""

from __future__ import annotations

import csv
import functools
import io
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from rempart.errors import ConfigError, InputError, RecordError

__all__ = [
    "DepartmentRecord",
    "department",
    "departments",
    "is_overseas",
    "neighbourhood",
    "read_departments",
]

_DEPARTMENT_CODE = re.compile(r"(0[1-9]|[1-8][0-9]|9[0-5]|2[AB]|97[1-6])")
_COLUMNS = ("code", "name", "region", "population", "communes", "timezone", "neighbours")


@dataclass(frozen=True, slots=True)
class DepartmentRecord:
    """One French department: INSEE code, names, rounded legal population, land neighbours.

    ``population`` is the INSEE legal population (2021 reference) rounded to
    the nearest thousand; ``communes`` the number of communes in the 2023
    official geographic code; ``neighbours`` the codes of land-adjacent
    departments (none for the overseas departments).
    """

    code: str
    name: str
    region: str
    population: int
    communes: int
    timezone: str
    neighbours: tuple[str, ...]

    def __post_init__(self) -> None:
        if not _DEPARTMENT_CODE.fullmatch(self.code):
            raise ConfigError("code", "a French department code", self.code)
        if self.population <= 0:
            raise ConfigError("population", "a positive count", self.population)
        if self.communes <= 0:
            raise ConfigError("communes", "a positive count", self.communes)
        for neighbour in self.neighbours:
            if not _DEPARTMENT_CODE.fullmatch(neighbour) or neighbour == self.code:
                raise ConfigError("neighbours", "other French department codes", neighbour)

    @property
    def overseas(self) -> bool:
        """Whether this is an overseas department (Guadeloupe … Mayotte)."""
        return self.code.startswith("97")


def _record(row: dict[str, str]) -> DepartmentRecord:
    return DepartmentRecord(
        code=row["code"],
        name=row["name"],
        region=row["region"],
        population=int(row["population"]),
        communes=int(row["communes"]),
        timezone=row["timezone"],
        neighbours=tuple(row["neighbours"].split()),
    )


def read_departments(source: Traversable | Path) -> tuple[DepartmentRecord, ...]:
    """Every department of the table at ``source``, in file order, or a located error.

    Raises `InputError` when the file cannot be read or holds no department,
    `RecordError` (file and line) for a wrong header, a bad value, a
    department listed twice or a neighbour the table does not list.
    """
    name = str(source)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{name}: cannot read the departments table ({error})") from error
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if tuple(reader.fieldnames or ()) != _COLUMNS:
        raise RecordError(name, 1, None, f"expected the columns {','.join(_COLUMNS)}")
    records: list[DepartmentRecord] = []
    lines: dict[str, int] = {}
    for row in reader:
        try:
            record = _record(row)
        except ConfigError as error:
            raise RecordError(name, reader.line_num, error.key, str(error)) from error
        except (ValueError, TypeError, AttributeError) as error:
            raise RecordError(name, reader.line_num, None, str(error)) from error
        if record.code in lines:
            raise RecordError(name, reader.line_num, "code", f"{record.code} is listed twice")
        lines[record.code] = reader.line_num
        records.append(record)
    if not records:
        raise InputError(f"{name}: the departments table lists no department")
    for record in records:
        for neighbour in record.neighbours:
            if neighbour not in lines:
                raise RecordError(
                    name, lines[record.code], "neighbours", f"{neighbour} is not in the table"
                )
    return tuple(records)


@functools.cache
def departments() -> tuple[DepartmentRecord, ...]:
    """The 101 French departments, metropolitan first, in INSEE code order."""
    return read_departments(resources.files("rempart").joinpath("data", "departments.csv"))


@functools.cache
def _departments_by_code() -> dict[str, DepartmentRecord]:
    return {record.code: record for record in departments()}


def department(code: str) -> DepartmentRecord:
    """The department with INSEE code ``code`` (``"01"`` … ``"95"``, ``"2A"``, ``"976"``)."""
    try:
        return _departments_by_code()[code]
    except KeyError:
        raise ConfigError("department", "a French department code", code) from None


def is_overseas(code: str) -> bool:
    """Whether department ``code`` is overseas; raises `ConfigError` for an unknown code."""
    return department(code).overseas


def neighbourhood(code: str) -> frozenset[str]:
    """Department ``code`` and its land neighbours; just ``code`` when the table lacks it.

    A code the table does not list (a directory's typo, a department created
    later) is its own only neighbour rather than an error, as it was before
    the table existed; a broken table still raises.
    """
    record = _departments_by_code().get(code)
    if record is None:
        return frozenset({code})
    return frozenset({code, *record.neighbours})
