"""What every network data source shares: its contract, the labels it reads, the work bounds.

A *source format* reads one file (a MaxMind DB, a TSV dump, a cloud
provider's range list, a user's list) and yields `NetworkRange` objects that
carry only what that file knows: an ASN database gives AS and operator, a
country database the country, a range list the kind. `rempart.netdata.merge`
puts them together.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Protocol

from rempart.errors import ConfigError, InputError
from rempart.networks import MAX_OPERATOR_LENGTH, UNKNOWN_COUNTRY, NetworkKind

__all__ = [
    "ImportLimits",
    "Labels",
    "Network",
    "NetworkSource",
    "SourceFormat",
    "clean_operator",
]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SPACES = re.compile(r"\s+")


class Labels(NamedTuple):
    """What one source says of one range; unknown fields keep their defaults."""

    asn: int = 0
    operator: str = ""
    country: str = UNKNOWN_COUNTRY
    kind: NetworkKind = NetworkKind.UNKNOWN


@dataclass(frozen=True, slots=True)
class ImportLimits:
    """Bounds on the work an import does, so that a hostile or broken file cannot run it away.

    ``max_line_bytes`` bounds a text line (TSV dumps, user lists);
    ``max_ranges`` the ranges one source may yield and the merged table may
    hold; ``max_json_bytes`` the size of a JSON range list read whole.
    The nesting depth of MaxMind DB records is bounded by ``maxminddb`` itself.
    """

    max_line_bytes: int = 4_096
    max_ranges: int = 5_000_000
    max_json_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        for key in ("max_line_bytes", "max_ranges", "max_json_bytes"):
            value = getattr(self, key)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(key, "a positive integer", value)


class SourceFormat(Protocol):
    """One kind of network data file, registered under a name in a `SourceRegistry`."""

    @property
    def name(self) -> str:
        """The name a source is given with on the command line (``name:PATH``)."""
        ...

    @property
    def summary(self) -> str:
        """One line: which files this format reads and what it takes from them."""
        ...

    def read(self, path: Path, limits: ImportLimits) -> Iterator[tuple[Network, Labels]]:
        """Yield ``(network, labels)`` for every range of ``path`` that says something.

        A missing or unreadable file is
        an `InputError` naming it; a bad record an `InputError` or
        `RecordError` naming the file and the record's location.
        """
        ...


@dataclass(frozen=True, slots=True)
class NetworkSource:
    """One file to import and the format to read it with.

    >>> NetworkSource.parse("geolite2-asn:/data/GeoLite2-ASN.mmdb")
    NetworkSource(format='geolite2-asn', path=PosixPath('/data/GeoLite2-ASN.mmdb'))
    """

    format: str
    path: Path

    @classmethod
    def parse(cls, spec: str) -> NetworkSource:
        """A source from ``FORMAT:PATH``."""
        name, separator, path = spec.partition(":")
        if not separator or not name or not path:
            raise InputError(f"{spec}: expected FORMAT:PATH (see `rempart networks formats`)")
        return cls(name, Path(path))


def clean_operator(value: object) -> str:
    """An operator name fit for the table: printable, single-spaced, at most 200 characters."""
    if not isinstance(value, str):
        return ""
    text = _SPACES.sub(" ", _CONTROL.sub(" ", value)).strip()
    return text[:MAX_OPERATOR_LENGTH].rstrip()
