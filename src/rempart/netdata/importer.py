"""``rempart networks import``: read every source, merge them, hand back the guard's table.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     hosting = Path(tmp, "hosting.txt")
...     _ = hosting.write_text("51.75.0.0/16 OVH  # Roubaix\\n")
...     table = import_networks([NetworkSource("hosting", hosting)])
>>> network = table.lookup("51.75.1.2")
>>> network.operator, network.kind.value, network.asn, network.country
('OVH', 'hosting', 0, '??')
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from rempart.errors import InputError
from rempart.netdata.merge import merge_sources
from rempart.netdata.registry import SourceRegistry, default_registry
from rempart.netdata.source import ImportLimits, NetworkSource
from rempart.networks import UNKNOWN_COUNTRY, NetworkTable

__all__ = ["import_networks", "table_summary"]

Claim = tuple[object, object]


def import_networks(
    sources: Sequence[NetworkSource],
    *,
    registry: SourceRegistry | None = None,
    limits: ImportLimits | None = None,
) -> NetworkTable:
    """One `NetworkTable` from ``sources``, merged as `rempart.netdata.merge` describes.

    Sources are read in the order given (earlier ones win for AS and
    country). A missing, corrupt or empty source, or one past
    ``limits.max_ranges``, is an `InputError` naming it: an import never
    produces an empty or partial table.
    """
    if not sources:
        raise InputError("no network data source given")
    registry = registry if registry is not None else default_registry()
    limits = limits if limits is not None else ImportLimits()
    formats = [registry[source.format] for source in sources]  # unknown names fail before reading
    read = []
    total = 0
    for source, source_format in zip(sources, formats, strict=True):
        claims = []
        for claim in source_format.read(Path(source.path), limits):
            claims.append(claim)
            if len(claims) + total > limits.max_ranges:
                raise InputError(
                    f"{source.path}: more than {limits.max_ranges} ranges in all "
                    "(ImportLimits.max_ranges)"
                )
        if not claims:
            raise InputError(f"{source.path}: no network in this {source.format} file")
        total += len(claims)
        read.append(claims)
    ranges = merge_sources(read)
    if len(ranges) > limits.max_ranges:
        raise InputError(f"the merged table holds more than {limits.max_ranges} ranges")
    return NetworkTable(ranges)


def table_summary(table: NetworkTable) -> dict[str, object]:
    """Counts that say what an imported table knows: ranges per family, with an AS, a country,
    per kind."""
    ranges = table.ranges
    kinds = Counter(network.kind.value for network in ranges)
    return {
        "ranges": len(ranges),
        "ipv4": sum(1 for network in ranges if network.prefix.version == 4),
        "ipv6": sum(1 for network in ranges if network.prefix.version == 6),
        "with_asn": sum(1 for network in ranges if network.asn),
        "with_country": sum(1 for network in ranges if network.country != UNKNOWN_COUNTRY),
        "kinds": dict(sorted(kinds.items())),
    }
