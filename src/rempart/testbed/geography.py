"""The testbed's reference geography: departments, countries of birth, networks, browsers.

Four packaged tables (``rempart/testbed/data/*.csv``, described in
``docs/testbed-geography.md``) give the simulated world its shape: where
patients and professionals live, where people born abroad were born, which
operators their addresses belong to, and which browsers they use. Each table
is read once and cached. The figures are rounded public statistics and the
network prefixes are representative allocations, not a current registry
snapshot: the simulator only writes them into synthetic logs.

>>> department("2A").name
'Corse-du-Sud'
>>> is_overseas("974")
True
>>> table = network_table()
>>> table.lookup("90.12.34.56").operator
'Orange'
>>> free = table.ranges_of(NetworkKind.FIXED, operator="Free")[0]
>>> table.lookup(table.sample_address(np.random.default_rng(7), free)) == free
True
"""

from __future__ import annotations

import bisect
import csv
import functools
import io
import ipaddress
import math
import re
import socket
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import TypeVar

import numpy as np

from rempart.errors import ConfigError, RecordError

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

_DEPARTMENT_CODE = re.compile(r"(0[1-9]|[1-8][0-9]|9[0-5]|2[AB]|97[1-6])")
_COUNTRY_CODE = re.compile(r"99[0-9]{3}")
_ISO_COUNTRY = re.compile(r"[A-Z]{2}")
_OCTET_SHIFTS = np.array([24, 16, 8, 0], dtype=np.int64)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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


class NetworkKind(StrEnum):
    """What kind of connection an address range stands for in the simulated world."""

    FIXED = "fixed"
    """French residential and business broadband."""
    MOBILE = "mobile"
    """French mobile networks (carrier-grade NAT: many users behind one address)."""
    HOSTING = "hosting"
    """Data centres and clouds: where robots run."""
    VPN = "vpn"
    """Exit ranges of commercial VPNs."""
    FOREIGN_FIXED = "foreign_fixed"
    """Residential broadband abroad: a professional on holiday or visiting family."""


@dataclass(frozen=True, slots=True)
class NetworkRange:
    """An operator's address range: prefix, origin AS, operator, ISO 3166 country, kind."""

    prefix: ipaddress.IPv4Network | ipaddress.IPv6Network
    asn: int
    operator: str
    country: str
    kind: NetworkKind

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, ipaddress.IPv4Network | ipaddress.IPv6Network):
            raise ConfigError("prefix", "an ipaddress network", self.prefix)
        if self.asn <= 0:
            raise ConfigError("asn", "a positive AS number", self.asn)
        if not self.operator:
            raise ConfigError("operator", "an operator name", self.operator)
        if not _ISO_COUNTRY.fullmatch(self.country):
            raise ConfigError("country", "an ISO 3166 alpha-2 code", self.country)
        if not isinstance(self.kind, NetworkKind):
            raise ConfigError("kind", "a NetworkKind", self.kind)

    @property
    def first(self) -> int:
        """The range's first address as an integer."""
        return int(self.prefix.network_address)

    @property
    def last(self) -> int:
        """The range's last address as an integer."""
        return int(self.prefix.broadcast_address)


class NetworkTable:
    """Longest-prefix lookup over network ranges, and address sampling inside a range.

    Each address family is cut at construction into elementary intervals,
    each owned by the most specific range covering it, so a lookup is one
    ``bisect`` over a sorted list whatever the nesting of the ranges.

    >>> rng = np.random.default_rng(1)
    >>> net = NetworkRange(ipaddress.ip_network("192.0.2.0/30"), 64496, "Doc", "FR",
    ...                    NetworkKind.FIXED)
    >>> NetworkTable([net]).lookup("192.0.2.2") == net
    True
    >>> sorted(set(NetworkTable.sample_addresses(rng, net, 20)))
    ['192.0.2.1', '192.0.2.2']
    """

    __slots__ = ("_ranges", "_v4_edges", "_v4_owners", "_v6_edges", "_v6_owners")

    def __init__(self, ranges: Iterable[NetworkRange]) -> None:
        self._ranges = tuple(ranges)
        seen: set[Network] = set()
        for network in self._ranges:
            if network.prefix in seen:
                raise ConfigError("ranges", "distinct prefixes", str(network.prefix))
            seen.add(network.prefix)
        self._v4_edges, self._v4_owners = _partition(
            [r for r in self._ranges if r.prefix.version == 4]
        )
        self._v6_edges, self._v6_owners = _partition(
            [r for r in self._ranges if r.prefix.version == 6]
        )

    @property
    def ranges(self) -> tuple[NetworkRange, ...]:
        """Every range of the table, in the order given."""
        return self._ranges

    def __len__(self) -> int:
        return len(self._ranges)

    def lookup(self, ip: str) -> NetworkRange | None:
        """The most specific range containing ``ip``.

        None when no range contains it, or when ``ip`` is not a textual IPv4
        or IPv6 address at all.
        """
        if ":" in ip:
            family, edges, owners = socket.AF_INET6, self._v6_edges, self._v6_owners
        else:
            family, edges, owners = socket.AF_INET, self._v4_edges, self._v4_owners
        try:
            packed = socket.inet_pton(family, ip)
        except (OSError, ValueError):
            return None
        index = bisect.bisect_right(edges, int.from_bytes(packed, "big")) - 1
        return owners[index] if index >= 0 else None

    def ranges_of(
        self, kind: NetworkKind, country: str | None = None, operator: str | None = None
    ) -> tuple[NetworkRange, ...]:
        """The ranges of one kind, optionally of one country and one operator, in table order."""
        return tuple(
            r
            for r in self._ranges
            if r.kind == kind
            and (country is None or r.country == country)
            and (operator is None or r.operator == operator)
        )

    @staticmethod
    def sample_address(rng: np.random.Generator, network: NetworkRange) -> str:
        """One random host address inside ``network``, deterministic for a seeded ``rng``.

        The network and broadcast addresses are never drawn (unless the range
        has no other address, as a /31 or /32).
        """
        return NetworkTable.sample_addresses(rng, network, 1)[0]

    @staticmethod
    def sample_addresses(rng: np.random.Generator, network: NetworkRange, n: int) -> list[str]:
        """``n`` random host addresses inside ``network`` (vectorised for IPv4)."""
        if n < 0:
            raise ConfigError("n", "a non-negative number of addresses", n)
        size = network.prefix.num_addresses
        low, high = (1, size - 1) if size > 2 else (0, size)
        if network.prefix.version == 4:
            values = rng.integers(low, high, size=n, dtype=np.int64) + network.first
            octets = (values[:, None] >> _OCTET_SHIFTS) & 0xFF
            return [f"{a}.{b}.{c}.{d}" for a, b, c, d in octets.tolist()]
        return [
            ipaddress.IPv6Address(network.first + _big_offset(rng, low, high)).compressed
            for _ in range(n)
        ]


def _big_offset(rng: np.random.Generator, low: int, high: int) -> int:
    """A uniform integer in ``[low, high)`` for spans wider than numpy's 64-bit integers."""
    span = high - low
    words = -(-span.bit_length() // 32)
    while True:
        draw = 0
        for word in rng.integers(0, 1 << 32, size=words, dtype=np.uint64).tolist():
            draw = (draw << 32) | int(word)
        # Rejection keeps the draw uniform; with power-of-two spans it almost never loops.
        draw &= (1 << span.bit_length()) - 1
        if draw < span:
            return low + draw


def _partition(ranges: list[NetworkRange]) -> tuple[list[int], list[NetworkRange | None]]:
    """Sorted interval edges and, for each, the most specific range covering it (or None)."""
    edges = sorted({edge for r in ranges for edge in (r.first, r.last + 1)})
    owners: list[NetworkRange | None] = [None] * len(edges)
    # Painting from the widest prefix to the narrowest leaves each interval to its longest match.
    for network in sorted(ranges, key=lambda r: r.prefix.prefixlen):
        start = bisect.bisect_left(edges, network.first)
        stop = bisect.bisect_left(edges, network.last + 1)
        owners[start:stop] = [network] * (stop - start)
    return edges, owners


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


def _department(row: dict[str, str]) -> DepartmentRecord:
    return DepartmentRecord(
        code=row["code"],
        name=row["name"],
        region=row["region"],
        population=int(row["population"]),
        communes=int(row["communes"]),
        timezone=row["timezone"],
        neighbours=tuple(row["neighbours"].split()),
    )


def _birth_country(row: dict[str, str]) -> BirthCountry:
    return BirthCountry(code=row["code"], name=row["name"], weight=float(row["weight"]))


def _network_range(row: dict[str, str]) -> NetworkRange:
    return NetworkRange(
        prefix=ipaddress.ip_network(row["prefix"]),
        asn=int(row["asn"]),
        operator=row["operator"],
        country=row["country"],
        kind=NetworkKind(row["kind"]),
    )


@functools.cache
def departments() -> tuple[DepartmentRecord, ...]:
    """The 101 French departments, metropolitan first, in INSEE code order."""
    return _load(
        "departments.csv",
        ("code", "name", "region", "population", "communes", "timezone", "neighbours"),
        _department,
    )


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


@functools.cache
def birth_countries() -> tuple[BirthCountry, ...]:
    """The main countries of birth of immigrants living in France, with their shares."""
    return _load("birth_countries.csv", ("code", "name", "weight"), _birth_country)


@functools.cache
def network_ranges() -> tuple[NetworkRange, ...]:
    """Representative address ranges of French and foreign operators, hosts and VPNs."""
    return _load("networks.csv", ("prefix", "asn", "operator", "country", "kind"), _network_range)


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
