"""What the guard is told about the world's networks: the whole truth, a realistic import, nothing.

The simulator draws addresses from its full table (``world/networks.csv``);
a real operator never has that table. This module builds the guard's view at
three levels of knowledge:

- ``full``: the world's table itself (what the guard read until now);
- ``realistic``: built the way a real import is. The world's ranges are
  written out as the files an operator downloads, in their real layouts, and
  read back by the real importer (`rempart.netdata.import_networks`): an
  iptoasn.com TSV dump giving AS, operator and country for every range (with
  a share of ranges *stale*: carrying the AS, operator and country of another
  range, as a block reassigned since the dump was made), and the range list
  of each provider that publishes one (AWS's ``ip-ranges.json``) marking
  hosting. No VPN list, no connection type: VPN exits, mobile lines and the
  hosters without a published list (OVH, Scaleway, Hetzner…) come out as
  kind ``unknown``;
- ``none``: no network data at all.

>>> import tempfile
>>> from rempart.testbed.geography import network_table
>>> with tempfile.TemporaryDirectory() as tmp:
...     view = network_view(network_table(), NetworkView.REALISTIC, Path(tmp), seed=1)
>>> view.lookup("35.180.1.1").kind.value, view.lookup("51.75.1.1").kind.value
('hosting', 'unknown')
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import numpy as np

from rempart.errors import ConfigError
from rempart.netdata import NetworkSource, import_networks
from rempart.networks import UNKNOWN_COUNTRY, NetworkKind, NetworkRange, NetworkTable

__all__ = ["CLOUD_LISTS", "NetworkView", "network_view", "write_realistic_sources"]

CLOUD_LISTS: dict[str, str] = {"Amazon AWS": "aws"}
"""The world's operators whose provider publishes its ranges, and that list's format."""


class NetworkView(StrEnum):
    """How much the guard knows of the world's networks."""

    FULL = "full"
    REALISTIC = "realistic"
    NONE = "none"


def network_view(
    truth: NetworkTable,
    view: NetworkView,
    directory: Path,
    *,
    seed: int,
    stale_share: float = 0.1,
) -> NetworkTable:
    """The guard's table at level ``view`` of the world's ``truth``.

    ``realistic`` writes its source files under ``directory/network-sources``
    and imports them; ``seed`` picks the stale ranges.
    """
    if view is NetworkView.NONE:
        return NetworkTable(())
    if view is NetworkView.FULL:
        return NetworkTable(_as_read(network) for network in truth.ranges)
    sources = write_realistic_sources(
        truth, directory / "network-sources", seed=seed, stale_share=stale_share
    )
    return import_networks(sources)


def write_realistic_sources(
    truth: NetworkTable, directory: Path, *, seed: int, stale_share: float = 0.1
) -> list[NetworkSource]:
    """Write the files a real operator would import for ``truth``; return them as sources."""
    if not 0.0 <= stale_share <= 1.0:
        raise ConfigError("stale_share", "a share between 0 and 1", stale_share)
    directory.mkdir(parents=True, exist_ok=True)
    ranges = sorted(truth.ranges, key=lambda r: (r.prefix.version, r.first))
    labels = [(r.asn, r.operator, r.country) for r in ranges]
    rng = np.random.default_rng(seed)
    stale = rng.choice(len(ranges), size=round(stale_share * len(ranges)), replace=False)
    for index in sorted(stale.tolist()):
        donors = [i for i, r in enumerate(ranges) if r.operator != ranges[index].operator]
        if donors:
            labels[index] = labels[donors[int(rng.integers(len(donors)))]]
    dump = directory / "ip2asn-combined.tsv"
    dump.write_text(
        "".join(
            f"{r.prefix.network_address}\t{r.prefix.broadcast_address}\t{asn}\t"
            f"{country if country != UNKNOWN_COUNTRY else 'None'}\t{operator}\n"
            for r, (asn, operator, country) in zip(ranges, labels, strict=True)
        ),
        encoding="utf-8",
    )
    sources = [NetworkSource("iptoasn", dump)]
    for operator, list_format in CLOUD_LISTS.items():
        listed = [r.prefix for r in ranges if r.operator == operator]
        if not listed:
            continue
        if list_format != "aws":
            raise ConfigError("CLOUD_LISTS", "the format 'aws'", list_format)
        document = {
            "syncToken": str(seed),
            "createDate": "2022-03-01-00-00-00",
            "prefixes": [
                {"ip_prefix": str(p), "region": "eu-west-3", "service": "EC2"}
                for p in listed
                if p.version == 4
            ],
            "ipv6_prefixes": [
                {"ipv6_prefix": str(p), "region": "eu-west-3", "service": "EC2"}
                for p in listed
                if p.version == 6
            ],
        }
        path = directory / "ip-ranges.json"
        path.write_text(json.dumps(document, indent=1), encoding="utf-8")
        sources.append(NetworkSource(list_format, path))
    return sources


def _as_read(network: NetworkRange) -> NetworkRange:
    """The range as `rempart.networks.read_networks` gives it to the guard."""
    if network.kind is NetworkKind.FOREIGN_FIXED:
        return NetworkRange(
            network.prefix, network.asn, network.operator, network.country, NetworkKind.FIXED
        )
    return network
