"""MaxMind DB files: GeoLite2/GeoIP2, DB-IP lite and IPinfo lite, read with MaxMind's reader.

The binary format is parsed by ``maxminddb`` (which bounds record nesting and
checks the search tree); this module walks every network of the file and
keeps what one *layout* says, so that a file is read for what it is:

- ``geolite2-asn`` (GeoLite2-ASN, GeoIP2-ISP): ``autonomous_system_number``,
  ``autonomous_system_organization``;
- ``geolite2-country`` (GeoLite2/GeoIP2 Country or City): ``country.iso_code``,
  else ``registered_country.iso_code``;
- ``geoip2-anonymous-ip``: ``is_tor_exit_node`` (tor), ``is_anonymous_vpn``
  (vpn), ``is_residential_proxy`` / ``is_public_proxy`` (proxy),
  ``is_hosting_provider`` (hosting), the most telling flag winning;
- ``geoip2-connection-type``: ``connection_type``, ``Cellular`` mobile,
  ``Cable/DSL``, ``Dialup``, ``Corporate``, ``Satellite`` fixed;
- ``dbip-asn`` and ``dbip-country`` (dbip-asn-lite, dbip-country-lite): the
  GeoLite2 fields, which DB-IP's lite files reuse;
- ``ipinfo-lite``: ``asn`` (``"AS15169"``), ``as_name``, ``country_code``
  (``country`` when it is a two-letter code, as in the older country_asn file).

A file in which no network carries the layout's fields is refused: it is
the wrong file, and importing it would silently label nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import maxminddb

from rempart.errors import InputError
from rempart.netdata.source import ImportLimits, Labels, Network, clean_operator
from rempart.networks import UNKNOWN_COUNTRY, NetworkKind

__all__ = ["MMDB_FORMATS", "MmdbFormat"]

_ISO_COUNTRY = re.compile(r"[A-Z]{2}")
_AS_TEXT = re.compile(r"(?:AS)?([0-9]{1,10})", re.IGNORECASE)
_MAX_ASN = 2**32 - 1
# Codes some databases use for "no country" rather than a country.
_NO_COUNTRY = frozenset({"", "--", "ZZ", "XX"})
_MOBILE = frozenset({"cellular"})
_FIXED = frozenset({"cable/dsl", "dialup", "corporate", "satellite"})

Layout = Callable[[Mapping[str, object]], Labels | None]


def _as_number(value: object) -> int:
    """An AS number from an integer or a ``"AS15169"`` string."""
    if isinstance(value, bool):
        raise ValueError(f"not an AS number: {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and (match := _AS_TEXT.fullmatch(value.strip())):
        number = int(match.group(1))
    else:
        raise ValueError(f"not an AS number: {value!r}")
    if not 0 <= number <= _MAX_ASN:
        raise ValueError(f"AS number out of range: {value!r}")
    return number


def _country_code(value: object) -> str:
    """An ISO 3166 alpha-2 code, or `UNKNOWN_COUNTRY` for the codes meaning "none"."""
    if value is None:
        return UNKNOWN_COUNTRY
    if not isinstance(value, str):
        raise ValueError(f"not a country code: {value!r}")
    code = value.strip().upper()
    if code in _NO_COUNTRY:
        return UNKNOWN_COUNTRY
    if not _ISO_COUNTRY.fullmatch(code):
        raise ValueError(f"not an ISO 3166 alpha-2 country code: {value!r}")
    return code


def _iso_code(record: Mapping[str, object], key: str) -> object:
    place = record.get(key)
    return place.get("iso_code") if isinstance(place, Mapping) else None


def asn_layout(record: Mapping[str, object]) -> Labels | None:
    """GeoLite2-ASN, GeoIP2-ISP and DB-IP ASN lite: AS number and organisation."""
    number = record.get("autonomous_system_number")
    if number is None:
        return None
    operator = clean_operator(record.get("autonomous_system_organization"))
    return Labels(asn=_as_number(number), operator=operator)


def country_layout(record: Mapping[str, object]) -> Labels | None:
    """GeoLite2/GeoIP2 Country and City, DB-IP country lite: where the addresses are used.

    ``registered_country`` stands in when a network has no ``country`` (as
    MaxMind does for some anonymous and satellite ranges).
    """
    code = _iso_code(record, "country") or _iso_code(record, "registered_country")
    if code is None:
        return None
    return Labels(country=_country_code(code))


def anonymous_ip_layout(record: Mapping[str, object]) -> Labels | None:
    """GeoIP2-Anonymous-IP: the most telling flag becomes the kind."""
    for flag, kind in (
        ("is_tor_exit_node", NetworkKind.TOR),
        ("is_anonymous_vpn", NetworkKind.VPN),
        ("is_residential_proxy", NetworkKind.PROXY),
        ("is_public_proxy", NetworkKind.PROXY),
        ("is_hosting_provider", NetworkKind.HOSTING),
    ):
        if record.get(flag) is True:
            return Labels(kind=kind)
    return None


def connection_type_layout(record: Mapping[str, object]) -> Labels | None:
    """GeoIP2-Connection-Type: ``Cellular`` is mobile; cable, DSL, dial-up, corporate fixed."""
    value = record.get("connection_type")
    if not isinstance(value, str):
        return None
    connection = value.strip().lower()
    if connection in _MOBILE:
        return Labels(kind=NetworkKind.MOBILE)
    if connection in _FIXED:
        return Labels(kind=NetworkKind.FIXED)
    return None


def ipinfo_lite_layout(record: Mapping[str, object]) -> Labels | None:
    """IPinfo lite (and its older country_asn file): ``asn`` as ``"AS…"`` text, ``as_name``,
    ``country_code`` (``country`` when it is a code)."""
    asn = record.get("asn")
    code = record.get("country_code")
    if code is None and isinstance(record.get("country"), str) and len(str(record["country"])) == 2:
        code = record["country"]
    if asn in (None, "") and code is None:
        return None
    return Labels(
        asn=_as_number(asn) if asn not in (None, "") else 0,
        operator=clean_operator(record.get("as_name")),
        country=_country_code(code),
    )


@dataclass(frozen=True, slots=True)
class MmdbFormat:
    """A MaxMind DB file read for one layout (see the module's table)."""

    name: str
    summary: str
    layout: Layout
    expects: str
    """The fields the layout reads, for the message when a file has none of them."""

    def read(self, path: Path, limits: ImportLimits) -> Iterator[tuple[Network, Labels]]:
        """Every network of ``path`` that the layout labels (see `SourceFormat.read`)."""
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        labelled = 0
        network: Network | None = None
        try:
            with maxminddb.open_database(str(path)) as reader:
                database_type = reader.metadata().database_type
                for network, record in reader:
                    if not isinstance(record, Mapping):
                        raise ValueError(f"a record is a {type(record).__name__}, not a map")
                    labels = self.layout(record)
                    if labels is not None and labels != _NOTHING:
                        labelled += 1
                        yield network, labels
        except (maxminddb.InvalidDatabaseError, OSError, TypeError, IndexError) as error:
            raise InputError(f"{path}: not a readable MaxMind DB file ({error})") from None
        except (ValueError, UnicodeError) as error:
            where = f" at {network}" if network is not None else ""
            raise InputError(f"{path}{where}: {error}") from None
        if labelled == 0:
            raise InputError(
                f"{path}: no network carries {self.expects}: not a {self.name} file "
                f"(its database type is {database_type!r})"
            )


_NOTHING = Labels()

MMDB_FORMATS: tuple[MmdbFormat, ...] = (
    MmdbFormat(
        "geolite2-asn",
        "MaxMind GeoLite2-ASN or GeoIP2-ISP mmdb: AS number and organisation",
        asn_layout,
        "autonomous_system_number",
    ),
    MmdbFormat(
        "geolite2-country",
        "MaxMind GeoLite2/GeoIP2 Country or City mmdb: country",
        country_layout,
        "country.iso_code",
    ),
    MmdbFormat(
        "geoip2-anonymous-ip",
        "MaxMind GeoIP2-Anonymous-IP mmdb: Tor, VPN, proxy and hosting flags",
        anonymous_ip_layout,
        "is_tor_exit_node, is_anonymous_vpn, is_*_proxy or is_hosting_provider",
    ),
    MmdbFormat(
        "geoip2-connection-type",
        "MaxMind GeoIP2-Connection-Type mmdb: mobile (Cellular) or fixed",
        connection_type_layout,
        "connection_type",
    ),
    MmdbFormat(
        "dbip-asn",
        "DB-IP ASN lite mmdb (dbip-asn-lite): AS number and organisation",
        asn_layout,
        "autonomous_system_number",
    ),
    MmdbFormat(
        "dbip-country",
        "DB-IP country lite mmdb (dbip-country-lite): country",
        country_layout,
        "country.iso_code",
    ),
    MmdbFormat(
        "ipinfo-lite",
        "IPinfo lite mmdb (ipinfo_lite): AS number, AS name and country",
        ipinfo_lite_layout,
        "asn or country_code",
    ),
)
