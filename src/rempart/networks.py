"""Address ranges and what they stand for: operator, autonomous system, country, kind.

`NetworkTable` is the guard's view of an IP-to-AS database: a longest-prefix
lookup from an address to its `NetworkRange`. The testbed ships its own table
(``world/networks.csv``, see ``docs/testbed-geography.md``); production
loads the same CSV shape built from a registry dump with `read_networks`.
"""

from __future__ import annotations

import bisect
import csv
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from rempart.errors import ConfigError, InputError, RecordError

__all__ = [
    "NetworkKind",
    "NetworkRange",
    "NetworkTable",
    "network_range_from_row",
    "read_networks",
]

_ISO_COUNTRY = re.compile(r"[A-Z]{2}")
_OCTET_SHIFTS = np.array([24, 16, 8, 0], dtype=np.int64)
_COLUMNS = ("prefix", "asn", "operator", "country", "kind")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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


def network_range_from_row(row: dict[str, str]) -> NetworkRange:
    """One range from a CSV row with the columns ``prefix,asn,operator,country,kind``."""
    return NetworkRange(
        prefix=ipaddress.ip_network(row["prefix"]),
        asn=int(row["asn"]),
        operator=row["operator"],
        country=row["country"],
        kind=NetworkKind(row["kind"]),
    )


def read_networks(path: str | Path) -> NetworkTable:
    """A table from a CSV file with the columns ``prefix,asn,operator,country,kind``.

    A bad row raises `RecordError` with its line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from None
    reader = csv.DictReader(text.splitlines())
    if tuple(reader.fieldnames or ()) != _COLUMNS:
        raise RecordError(str(path), 1, None, f"expected the columns {','.join(_COLUMNS)}")
    ranges = []
    for row in reader:
        try:
            ranges.append(network_range_from_row(row))
        except (ConfigError, ValueError, KeyError) as error:
            raise RecordError(str(path), reader.line_num, None, str(error)) from None
    return NetworkTable(ranges)
