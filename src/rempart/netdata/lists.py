"""User lists of ranges of one kind: hosting (OVH, Scaleway…), VPN, proxy or Tor exits.

One prefix or address per line, optionally followed by the operator's name;
``#`` starts a comment; blank lines are skipped::

    # French hosting providers without a published list
    51.75.0.0/16      OVH
    2001:41d0::/32    OVH
    163.172.0.0/16    Scaleway
    185.220.101.1                  # a single address is a /32

A prefix with host bits set (``10.0.0.1/8``) is refused with its line: which
block was meant is anybody's guess.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rempart.errors import RecordError
from rempart.netdata._text import text_lines
from rempart.netdata.source import ImportLimits, Labels, Network, clean_operator
from rempart.networks import NetworkKind

__all__ = ["LIST_FORMATS", "ListFormat"]


@dataclass(frozen=True, slots=True)
class ListFormat:
    """A plain list of ranges that are all of one ``kind``."""

    name: str
    summary: str
    kind: NetworkKind

    def read(self, path: Path, limits: ImportLimits) -> Iterator[tuple[Network, Labels]]:
        """Every listed range, labelled with the list's kind (see `SourceFormat.read`)."""
        for number, line in text_lines(path, limits.max_line_bytes):
            body = line.split("#", 1)[0].strip()
            if not body:
                continue
            prefix, *operator = body.split(None, 1)
            try:
                network = ipaddress.ip_network(prefix)
            except ValueError as error:
                raise RecordError(str(path), number, None, str(error)) from None
            yield network, Labels(operator=clean_operator(" ".join(operator)), kind=self.kind)


LIST_FORMATS: tuple[ListFormat, ...] = (
    ListFormat("hosting", "user list of hosting ranges (one prefix per line)", NetworkKind.HOSTING),
    ListFormat("vpn", "user list of commercial VPN exit ranges", NetworkKind.VPN),
    ListFormat("proxy", "user list of public or residential proxy ranges", NetworkKind.PROXY),
    ListFormat(
        "tor", "user list of Tor exit addresses (e.g. the Tor bulk exit list)", NetworkKind.TOR
    ),
)
