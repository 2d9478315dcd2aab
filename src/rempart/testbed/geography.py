"""The testbed's reference geography: departments, countries of birth, networks, browsers.

The departments are the core's (`rempart.geography`, which the guard uses
too); three packaged tables of the testbed's own (``rempart/testbed/data/*.csv``,
described in ``docs/testbed-geography.md``) add where people born abroad
were born, which operators addresses belong to, and which browsers
professionals use. Together they give the simulated world its shape. Each
table is read once and cached. The figures are rounded public statistics and
the network prefixes are representative allocations, not a current registry
snapshot: the simulator only writes them into synthetic logs.

>>> department("2A").name
'Corse-du-Sud'
>>> is_overseas("974")
True
>>> table = network_table()
>>> table.lookup("90.12.34.56").operator
'Orange'
>>> import numpy as np
>>> free = table.ranges_of(NetworkKind.FIXED, operator="Free")[0]
>>> table.lookup(table.sample_address(np.random.default_rng(7), free)) == free
True
"""

from __future__ import annotations

import csv
import functools
import io
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from typing import TypeVar

from rempart.errors import ConfigError, RecordError
from rempart.geography import DepartmentRecord, department, departments, is_overseas
from rempart.networks import NetworkKind, NetworkRange, NetworkTable, network_range_from_row

__all__ = [
    "BirthCountry",
    "DepartmentRecord",
    "NetworkKind",
    "NetworkRange",
    "NetworkTable",
    "birth_countries",
    "browser_user_agents",
    "department",
    "departments",
    "is_overseas",
    "network_ranges",
    "network_table",
]

_T = TypeVar("_T")

_COUNTRY_CODE = re.compile(r"99[0-9]{3}")


@dataclass(frozen=True, slots=True)
class BirthCountry:
    """A country of birth abroad: INSEE COG code (``99xxx``), French name, share of immigrants.

    ``weight`` is the country's approximate share of all immigrants living in
    France; the listed countries do not sum to 1 (the rest were born elsewhere).
    """

    code: str
    name: str
    weight: float

    def __post_init__(self) -> None:
        if not _COUNTRY_CODE.fullmatch(self.code):
            raise ConfigError("code", "an INSEE country code 99xxx", self.code)
        if not (math.isfinite(self.weight) and self.weight > 0):
            raise ConfigError("weight", "a positive share", self.weight)


def _rows(name: str, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of a packaged table with their line numbers; the header must be ``columns``."""
    text = (resources.files("rempart.testbed") / "data" / name).read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    if tuple(reader.fieldnames or ()) != columns:
        raise RecordError(name, 1, None, f"expected the columns {','.join(columns)}")
    for row in reader:
        yield reader.line_num, row


def _load(
    name: str, columns: tuple[str, ...], build: Callable[[dict[str, str]], _T]
) -> tuple[_T, ...]:
    """Build one record per row, turning any bad value into a located `RecordError`."""
    records: list[_T] = []
    for line, row in _rows(name, columns):
        try:
            records.append(build(row))
        except ConfigError as error:
            raise RecordError(name, line, error.key, str(error)) from error
        except (ValueError, TypeError) as error:
            raise RecordError(name, line, None, str(error)) from error
    return tuple(records)


def _birth_country(row: dict[str, str]) -> BirthCountry:
    return BirthCountry(code=row["code"], name=row["name"], weight=float(row["weight"]))


@functools.cache
def birth_countries() -> tuple[BirthCountry, ...]:
    """The main countries of birth of immigrants living in France, with their shares."""
    return _load("birth_countries.csv", ("code", "name", "weight"), _birth_country)


@functools.cache
def network_ranges() -> tuple[NetworkRange, ...]:
    """Representative address ranges of French and foreign operators, hosts and VPNs."""
    return _load(
        "networks.csv", ("prefix", "asn", "operator", "country", "kind"), network_range_from_row
    )


@functools.cache
def network_table() -> NetworkTable:
    """A `NetworkTable` over `network_ranges`, built once."""
    return NetworkTable(network_ranges())


@functools.cache
def browser_user_agents() -> tuple[tuple[str, float], ...]:
    """2022-era user agents of professionals' browsers with their weights (summing to 1)."""

    def build(row: dict[str, str]) -> tuple[str, float]:
        weight = float(row["weight"])
        if not (math.isfinite(weight) and weight > 0):
            raise ConfigError("weight", "a positive share", weight)
        return row["user_agent"], weight

    return _load("browsers.csv", ("user_agent", "weight"), build)
