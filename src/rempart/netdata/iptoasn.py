"""iptoasn.com dumps: ``ip2asn-combined.tsv`` (or ``-v4``/``-v6``), plain or gzip-compressed.

Each line is ``range_start range_end AS_number country_code AS_description``,
tab-separated, with ranges that are not CIDR blocks: each is cut into the
fewest prefixes covering it exactly (`ipaddress.summarize_address_range`).
Unrouted ranges (AS 0, ``Not routed``) say nothing and are skipped.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     dump = Path(tmp, "ip2asn.tsv")
...     _ = dump.write_text("1.0.0.0\\t1.0.0.255\\t13335\\tUS\\tCLOUDFLARENET\\n"
...                         "1.0.1.0\\t1.0.2.127\\t0\\tNone\\tNot routed\\n")
...     [(str(n), l.asn, l.country) for n, l in IPTOASN_FORMAT.read(dump, ImportLimits())]
[('1.0.0.0/24', 13335, 'US')]
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rempart.errors import RecordError
from rempart.netdata._text import text_lines
from rempart.netdata.source import ImportLimits, Labels, Network, clean_operator
from rempart.networks import UNKNOWN_COUNTRY

__all__ = ["IPTOASN_FORMAT", "IptoasnFormat"]

_MAX_ASN = 2**32 - 1
_NO_COUNTRY = frozenset({"", "None", "Unknown", "ZZ", "--"})


@dataclass(frozen=True, slots=True)
class IptoasnFormat:
    """The iptoasn.com TSV dump: AS number, country and AS description per address range."""

    name: str = "iptoasn"
    summary: str = "iptoasn.com TSV (ip2asn-combined.tsv[.gz]): AS, country and AS description"

    def read(self, path: Path, limits: ImportLimits) -> Iterator[tuple[Network, Labels]]:
        """Every routed range of ``path``, as prefixes (see `SourceFormat.read`)."""
        for number, line in text_lines(path, limits.max_line_bytes):
            if not line.strip() or line.startswith("#"):
                continue
            fields = line.split("\t")
            if len(fields) != 5:
                message = f"expected 5 tab-separated fields, got {len(fields)}"
                raise RecordError(str(path), number, None, message)
            start_text, end_text, asn_text, country_text, description = fields
            try:
                start = ipaddress.ip_address(start_text.strip())
                end = ipaddress.ip_address(end_text.strip())
                if start.version != end.version or int(start) > int(end):
                    raise ValueError(f"not a range: {start_text} to {end_text}")
                asn = int(asn_text)
                if not 0 <= asn <= _MAX_ASN:
                    raise ValueError(f"AS number out of range: {asn_text}")
                country = country_text.strip()
                if country in _NO_COUNTRY:
                    country = UNKNOWN_COUNTRY
                elif not (len(country) == 2 and country.isascii() and country.isalpha()):
                    raise ValueError(f"not an ISO 3166 alpha-2 country code: {country_text!r}")
            except ValueError as error:
                raise RecordError(str(path), number, None, str(error)) from None
            if asn == 0:
                continue
            labels = Labels(asn=asn, operator=clean_operator(description), country=country.upper())
            for network in ipaddress.summarize_address_range(start, end):
                yield network, labels


IPTOASN_FORMAT = IptoasnFormat()
