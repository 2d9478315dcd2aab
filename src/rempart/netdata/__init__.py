"""Network data from what operators actually have, made into the guard's network table.

The guard labels each address with its AS, operator, country and kind of
connection (`rempart.networks`). In production those labels come from
public and commercial databases, never from the testbed's own table:

- MaxMind GeoLite2/GeoIP2 ASN, Country, Anonymous-IP and Connection-Type,
  DB-IP lite and IPinfo lite MaxMind DB files (`rempart.netdata.mmdb`);
- the iptoasn.com TSV dump (`rempart.netdata.iptoasn`);
- AWS, Google Cloud and Azure published range lists (`rempart.netdata.cloud`);
- user lists of hosting, VPN, proxy and Tor ranges (`rempart.netdata.lists`).

`import_networks` reads the sources through a `SourceRegistry` and merges
them (`rempart.netdata.merge`); `rempart.networks.write_networks` writes the
table the guard loads with `rempart.networks.read_networks`. The command is
``rempart networks import --out FILE FORMAT:PATH...``.
"""

from rempart.netdata.importer import import_networks, table_summary
from rempart.netdata.merge import KIND_PRECEDENCE, merge_labels, merge_sources
from rempart.netdata.registry import SourceRegistry, default_registry
from rempart.netdata.source import ImportLimits, Labels, NetworkSource, SourceFormat

__all__ = [
    "KIND_PRECEDENCE",
    "ImportLimits",
    "Labels",
    "NetworkSource",
    "SourceFormat",
    "SourceRegistry",
    "default_registry",
    "import_networks",
    "merge_labels",
    "merge_sources",
    "table_summary",
]
