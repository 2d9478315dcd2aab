"""Several sources' partial labels made into one table the guard's lookup answers correctly.

Each source answers for an address with its own longest matching prefix.
The merged answer for an address takes, field by field:

- the AS number and operator of the first source (in the order given) whose
  answer has an AS number; failing that, the first operator name any answer
  gives (a cloud list's provider name);
- the country of the first source that places the address;
- the most telling kind any source gives: ``tor`` > ``vpn`` > ``proxy`` >
  ``hosting`` > ``mobile`` > ``fixed`` > ``unknown``, so a hosting or VPN
  list overrides what a connection-type database says.

The address space is cut at every boundary of every prefix into elementary
intervals; each interval's merged answer is computed once, neighbouring
intervals with the same answer are joined, and each run is written as the
fewest CIDR prefixes covering it. The result has no overlapping prefixes,
so any longest-prefix lookup over it (the guard's `NetworkTable`) gives the
merged answer, however the sources nested their prefixes.

>>> import ipaddress
>>> wide = (ipaddress.ip_network("10.0.0.0/8"), Labels(asn=64500, operator="Wide", country="FR"))
>>> cloud = (ipaddress.ip_network("10.1.0.0/16"), Labels(kind=NetworkKind.HOSTING))
>>> for network in merge_sources([[wide], [cloud]])[:3]:
...     print(network.prefix, network.asn, network.kind.value)
10.0.0.0/16 64500 unknown
10.1.0.0/16 64500 hosting
10.2.0.0/15 64500 unknown
"""

from __future__ import annotations

import bisect
import ipaddress
from collections.abc import Sequence

from rempart.netdata.source import Labels, Network
from rempart.networks import UNKNOWN_COUNTRY, NetworkKind, NetworkRange

__all__ = ["KIND_PRECEDENCE", "merge_labels", "merge_sources"]

KIND_PRECEDENCE: tuple[NetworkKind, ...] = (
    NetworkKind.UNKNOWN,
    NetworkKind.FIXED,
    NetworkKind.MOBILE,
    NetworkKind.HOSTING,
    NetworkKind.PROXY,
    NetworkKind.VPN,
    NetworkKind.TOR,
)
"""Kinds from the least to the most telling."""
_RANK = {kind: rank for rank, kind in enumerate(KIND_PRECEDENCE)} | {NetworkKind.FOREIGN_FIXED: 1}
_NOTHING = Labels()

Claim = tuple[Network, Labels]


def merge_labels(answers: Sequence[Labels | None]) -> Labels:
    """One answer from each source's answer for the same address (None: no match)."""
    known = [labels for labels in answers if labels is not None]
    asn, operator = next(((a.asn, a.operator) for a in known if a.asn), (0, ""))
    if not operator:
        operator = next((a.operator for a in known if a.operator), "")
    country = next((a.country for a in known if a.country != UNKNOWN_COUNTRY), UNKNOWN_COUNTRY)
    kind = max((a.kind for a in known), key=_RANK.__getitem__, default=NetworkKind.UNKNOWN)
    return Labels(asn, operator, country, kind)


def merge_sources(sources: Sequence[Sequence[Claim]]) -> list[NetworkRange]:
    """The merged, non-overlapping ranges of ``sources`` (earlier sources first for AS and
    country), IPv4 then IPv6, each in address order."""
    merged: list[NetworkRange] = []
    for version in (4, 6):
        # One claim per prefix and source (the last wins): a list repeating a wide prefix
        # must not repaint the whole space each time.
        claims = [
            list(dict(c for c in source if c[0].version == version).items()) for source in sources
        ]
        merged.extend(_merge_family(version, claims))
    return merged


def _merge_family(version: int, sources: list[list[Claim]]) -> list[NetworkRange]:
    edges = sorted(
        {
            edge
            for claims in sources
            for network, _ in claims
            for edge in (int(network.network_address), int(network.broadcast_address) + 1)
        }
    )
    if not edges:
        return []
    painted = [_paint(edges, claims) for claims in sources]
    answers: dict[tuple[int, ...], Labels] = {}
    runs: list[tuple[int, int, Labels]] = []
    for index, owners in enumerate(zip(*painted, strict=True)):
        if index == len(edges) - 1:
            break  # the last edge closes the last interval and opens none
        key = tuple(map(id, owners))
        labels = answers.get(key)
        if labels is None:
            labels = answers[key] = merge_labels(owners)
        if labels == _NOTHING:
            continue
        start, stop = edges[index], edges[index + 1]
        if runs and runs[-1][1] == start and runs[-1][2] == labels:
            runs[-1] = (runs[-1][0], stop, labels)
        else:
            runs.append((start, stop, labels))
    address = ipaddress.IPv4Address if version == 4 else ipaddress.IPv6Address
    return [
        NetworkRange(network, *labels)
        for start, stop, labels in runs
        for network in ipaddress.summarize_address_range(address(start), address(stop - 1))
    ]


def _paint(edges: list[int], claims: list[Claim]) -> list[Labels | None]:
    """For each elementary interval, the labels of the source's longest prefix covering it."""
    owners: list[Labels | None] = [None] * len(edges)
    # Painting from the widest prefix to the narrowest leaves each interval to its longest match;
    # prefixes of one length never overlap, so the work is bounded by lengths times intervals.
    for network, labels in sorted(claims, key=lambda claim: claim[0].prefixlen):
        start = bisect.bisect_left(edges, int(network.network_address))
        stop = bisect.bisect_left(edges, int(network.broadcast_address) + 1)
        owners[start:stop] = [labels] * (stop - start)
    return owners
