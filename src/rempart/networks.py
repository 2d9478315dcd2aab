"""Address ranges and what they stand for: autonomous system, operator, country, kind.

`NetworkTable` is the guard's view of an IP-to-network database: a
longest-prefix lookup from an address to its `NetworkRange`. The testbed
ships its own table (``world/networks.csv``, see ``docs/testbed-geography.md``);
an operator builds one from the databases it actually has with
``rempart networks import`` (`rempart.netdata`), and the guard loads either
with `read_networks`.

A range says four independent things, any of which may be unknown:

- ``asn``: the origin autonomous system, ``0`` when unknown (AS 0 is reserved
  by RFC 7607 and never originates a route, so it cannot clash with a real one);
- ``operator``: the AS organisation or provider name, ``""`` when unknown;
- ``country``: an ISO 3166 alpha-2 code, `UNKNOWN_COUNTRY` (``"??"``) when unknown;
- ``kind``: the kind of connection (`NetworkKind`), ``unknown`` when no source says.

Kind and country are separate: broadband abroad is ``fixed`` with a foreign
country. The CSV shape is ``prefix,asn,operator,country,kind``, unknown
operator and country written as empty cells.

>>> table = NetworkTable([NetworkRange(ipaddress.ip_network("192.0.2.0/24"))])
>>> unlabelled = table.lookup("192.0.2.1")
>>> unlabelled.asn, unlabelled.operator, unlabelled.country, unlabelled.kind.value
(0, '', '??', 'unknown')
"""

from __future__ import annotations

import bisect
import csv
import io
import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

import numpy as np

from rempart.errors import ConfigError, InputError, RecordError
from rempart.ingestion.atomic import atomic_output

__all__ = [
    "BROAD_AS_ADDRESSES",
    "MAX_OPERATOR_LENGTH",
    "UNKNOWN_COUNTRY",
    "NetworkKind",
    "NetworkRange",
    "NetworkTable",
    "network_range_from_row",
    "read_networks",
    "write_networks",
]

UNKNOWN_COUNTRY = "??"
"""The country of a range no source places (the guard's ``EventContext.country`` uses it too)."""
MAX_OPERATOR_LENGTH = 200
"""Longest operator name a range may carry (the importers cut longer ones)."""

_ISO_COUNTRY = re.compile(r"[A-Z]{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_OCTET_SHIFTS = np.array([24, 16, 8, 0], dtype=np.int64)
_COLUMNS = ("prefix", "asn", "operator", "country", "kind")
_MAX_ASN = 2**32 - 1

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class NetworkKind(StrEnum):
    """What kind of connection an address range stands for, whatever its country."""

    FIXED = "fixed"
    """Residential and business broadband."""
    MOBILE = "mobile"
    """Mobile networks (carrier-grade NAT: many users behind one address)."""
    HOSTING = "hosting"
    """Data centres and clouds: where robots run."""
    VPN = "vpn"
    """Exit ranges of commercial VPNs."""
    PROXY = "proxy"
    """Public and residential proxies: someone else's line relaying a stranger's traffic."""
    TOR = "tor"
    """Tor exit nodes."""
    UNKNOWN = "unknown"
    """No source says what kind of connection the range is (the usual case with GeoLite2)."""
    FOREIGN_FIXED = "foreign_fixed"
    """Legacy testbed label for broadband abroad, kept until the testbed's table drops it.

    No importer produces it and `read_networks` reads it as ``fixed`` (the
    country says it is abroad); only the testbed's own world table carries it.
    """


BROAD_AS_ADDRESSES: Final = 1 << 20
"""An AS announcing more IPv4 addresses than this (a million) is a national carrier or a large
cloud: an account having used it says nothing of whether a new address is its own network."""


@dataclass(frozen=True, slots=True)
class NetworkRange:
    """An address range and what is known of it: origin AS, operator, ISO 3166 country, kind.

    Every label is optional: ``asn`` 0, ``operator`` ``""``, ``country``
    `UNKNOWN_COUNTRY` and ``kind`` ``unknown`` mean "not known".
    """

    prefix: ipaddress.IPv4Network | ipaddress.IPv6Network
    asn: int = 0
    operator: str = ""
    country: str = UNKNOWN_COUNTRY
    kind: NetworkKind = NetworkKind.UNKNOWN

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, ipaddress.IPv4Network | ipaddress.IPv6Network):
            raise ConfigError("prefix", "an ipaddress network", self.prefix)
        if (
            not isinstance(self.asn, int)
            or isinstance(self.asn, bool)
            or not 0 <= self.asn <= _MAX_ASN
        ):
            raise ConfigError("asn", "an AS number (0 when unknown)", self.asn)
        if (
            not isinstance(self.operator, str)
            or len(self.operator) > MAX_OPERATOR_LENGTH
            or _CONTROL.search(self.operator)
        ):
            raise ConfigError(
                "operator",
                f"a name of at most {MAX_OPERATOR_LENGTH} printable characters ('' when unknown)",
                self.operator,
            )
        if self.country != UNKNOWN_COUNTRY and not (
            isinstance(self.country, str) and _ISO_COUNTRY.fullmatch(self.country)
        ):
            raise ConfigError(
                "country",
                f"an ISO 3166 alpha-2 code ({UNKNOWN_COUNTRY!r} when unknown)",
                self.country,
            )
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

    __slots__ = ("_broad", "_ranges", "_v4_edges", "_v4_owners", "_v6_edges", "_v6_owners")

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
        addresses: dict[int, int] = {}
        for network in self._ranges:
            if network.asn and network.prefix.version == 4:
                count = network.prefix.num_addresses
                addresses[network.asn] = addresses.get(network.asn, 0) + count
        self._broad = frozenset(asn for asn, n in addresses.items() if n > BROAD_AS_ADDRESSES)

    def is_broad(self, asn: int) -> bool:
        """Whether ``asn`` announces more than `BROAD_AS_ADDRESSES` IPv4 addresses in the table:
        a national carrier or a large cloud, whose customers share nothing but the AS."""
        return asn in self._broad

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
    """One range from a CSV row with the columns ``prefix,asn,operator,country,kind``.

    Empty ``asn``, ``operator`` and ``country`` cells mean unknown. The kind
    is kept as written (the testbed's world table still says ``foreign_fixed``);
    `read_networks` is the reader that normalises it.
    """
    asn = row["asn"]
    return NetworkRange(
        prefix=ipaddress.ip_network(row["prefix"]),
        asn=int(asn) if asn else 0,
        operator=row["operator"],
        country=row["country"] or UNKNOWN_COUNTRY,
        kind=NetworkKind(row["kind"] or NetworkKind.UNKNOWN),
    )


def read_networks(path: str | Path) -> NetworkTable:
    """The guard's table from a CSV file with the columns ``prefix,asn,operator,country,kind``.

    Reads the testbed's ``world/networks.csv`` and the output of
    ``rempart networks import`` alike. The legacy ``foreign_fixed`` kind is
    read as ``fixed`` (its country already says where). A missing file is an
    `InputError`; a bad row raises `RecordError` with its line.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise InputError(f"{path}: cannot read ({reason})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if tuple(header or ()) != _COLUMNS:
        raise RecordError(str(path), 1, None, f"expected the columns {','.join(_COLUMNS)}")
    ranges = []
    # Operators repeat across thousands of rows: one string object each keeps a big table small.
    names: dict[str, str] = {}
    lines: dict[Network, int] = {}
    for values in reader:
        try:
            if len(values) != len(_COLUMNS):
                raise ValueError(f"expected {len(_COLUMNS)} columns, got {len(values)}")
            row = dict(zip(_COLUMNS, values, strict=True))
            row["operator"] = names.setdefault(row["operator"], row["operator"])
            network = network_range_from_row(row)
        except (ConfigError, ValueError) as error:
            raise RecordError(str(path), reader.line_num, None, str(error)) from None
        first_line = lines.setdefault(network.prefix, reader.line_num)
        if first_line != reader.line_num:
            message = f"{network.prefix} is already on line {first_line}"
            raise RecordError(str(path), reader.line_num, "prefix", message)
        if network.kind is NetworkKind.FOREIGN_FIXED:
            network = NetworkRange(
                network.prefix, network.asn, network.operator, network.country, NetworkKind.FIXED
            )
        ranges.append(network)
    return NetworkTable(ranges)


def write_networks(ranges: Iterable[NetworkRange], path: str | Path) -> int:
    """Write ``ranges`` as the CSV `read_networks` reads (atomically); return how many.

    Unknown operator and country are written as empty cells, an unknown AS as 0.
    """
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_COLUMNS)
    count = 0
    for network in ranges:
        country = "" if network.country == UNKNOWN_COUNTRY else network.country
        writer.writerow(
            (network.prefix.compressed, network.asn, network.operator, country, network.kind.value)
        )
        count += 1
    with atomic_output(path) as output:
        output.write(buffer.getvalue().encode("utf-8"))
    return count
