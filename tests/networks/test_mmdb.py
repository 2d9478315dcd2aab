"""Tests of the MaxMind DB importers against MaxMind's own test databases and vendor layouts."""

from __future__ import annotations

import ipaddress
import re
import shutil
from pathlib import Path

import pytest

from rempart.errors import InputError
from rempart.netdata import ImportLimits, NetworkSource, default_registry, import_networks
from rempart.networks import UNKNOWN_COUNTRY, NetworkKind

from .sources import DATA, build_mmdb, source_answers

LIMITS = ImportLimits()


def read(format_name: str, path: Path) -> dict[str, tuple[int, str, str, NetworkKind]]:
    """Every network a format reads from ``path``, with its labels."""
    return {
        str(network): tuple(labels)  # type: ignore[misc]
        for network, labels in default_registry()[format_name].read(path, LIMITS)
    }


def test_geolite2_asn_answers_what_its_source_says() -> None:
    """Every network of GeoLite2-ASN-Test comes back with its AS number and organisation."""
    table = import_networks([NetworkSource("geolite2-asn", DATA / "GeoLite2-ASN-Test.mmdb")])
    expected = source_answers("GeoLite2-ASN-Test")
    assert len(expected) == 720
    for network, record in expected.items():
        block = ipaddress.ip_network(network)
        for address in (block.network_address, block.broadcast_address):
            found = table.lookup(str(address))
            assert found is not None, address
            assert found.asn == record["autonomous_system_number"]
            assert found.operator == record.get("autonomous_system_organization", "")
            assert (found.country, found.kind) == (UNKNOWN_COUNTRY, NetworkKind.UNKNOWN)
    assert table.lookup("192.0.2.1") is None


@pytest.mark.parametrize(
    ("address", "country"),
    [
        ("2.125.160.217", "GB"),
        ("81.2.69.160", "GB"),
        ("89.160.20.129", "SE"),
        ("216.160.83.60", "US"),
        ("2a02:d340::1", "FR"),
        ("2a02:d180::1", "DE"),
    ],
)
def test_geolite2_country_gives_the_country_of_use(address: str, country: str) -> None:
    """The imported country is ``country.iso_code`` (not the registered country) of the source."""
    table = import_networks(
        [NetworkSource("geolite2-country", DATA / "GeoLite2-Country-Test.mmdb")]
    )
    found = table.lookup(address)
    assert found is not None
    assert found.country == country
    assert found.asn == 0


def test_anonymous_ip_flags_become_kinds() -> None:
    """Tor beats VPN beats proxy beats hosting, as the Anonymous-IP test database's flags say."""
    found = read("geoip2-anonymous-ip", DATA / "GeoIP2-Anonymous-IP-Test.mmdb")
    order = (
        ("is_tor_exit_node", NetworkKind.TOR),
        ("is_anonymous_vpn", NetworkKind.VPN),
        ("is_residential_proxy", NetworkKind.PROXY),
        ("is_public_proxy", NetworkKind.PROXY),
        ("is_hosting_provider", NetworkKind.HOSTING),
    )
    expected = source_answers("GeoIP2-Anonymous-IP-Test")
    assert expected
    for network, record in expected.items():
        kind = next(kind for flag, kind in order if record.get(flag))
        assert found[network][3] is kind, network
    assert found["81.2.69.0/24"][3] is NetworkKind.TOR
    assert found["71.160.223.0/24"][3] is NetworkKind.HOSTING


def test_connection_type_gives_mobile_and_fixed() -> None:
    """``Cellular`` networks are mobile and ``Cable/DSL`` or ``Corporate`` ones fixed."""
    found = read("geoip2-connection-type", DATA / "GeoIP2-Connection-Type-Test.mmdb")
    expected = source_answers("GeoIP2-Connection-Type-Test")
    kinds = {"Cellular": NetworkKind.MOBILE, "Cable/DSL": NetworkKind.FIXED}
    checked = 0
    for network, record in expected.items():
        kind = kinds.get(str(record["connection_type"]))
        if kind is not None:
            assert found[network][3] is kind, network
            checked += 1
    assert checked >= 10
    assert found["1.0.1.0/24"][3] is NetworkKind.MOBILE


def test_dbip_lite_layouts(tmp_path: Path) -> None:
    """DB-IP's ASN and country lite files, which reuse GeoLite2's fields, import AS and country."""
    asn = build_mmdb(
        tmp_path / "dbip-asn-lite.mmdb",
        "DBIP-ASN-Lite (compat=GeoLite2-ASN)",
        {
            "1.0.0.0/24": {
                "autonomous_system_number": 13335,
                "autonomous_system_organization": "Cloudflare, Inc.",
            },
            "2a01:cb00::/24": {
                "autonomous_system_number": 3215,
                "autonomous_system_organization": "Orange S.A.",
            },
        },
    )
    country = build_mmdb(
        tmp_path / "dbip-country-lite.mmdb",
        "DBIP-Country-Lite",
        {
            "1.0.0.0/24": {"continent": {"code": "OC"}, "country": {"iso_code": "AU"}},
            "2a01:cb00::/24": {"continent": {"code": "EU"}, "country": {"iso_code": "FR"}},
        },
    )
    table = import_networks(
        [NetworkSource("dbip-asn", asn), NetworkSource("dbip-country", country)]
    )
    orange = table.lookup("2a01:cb00::1")
    cloudflare = table.lookup("1.0.0.1")
    assert orange is not None
    assert cloudflare is not None
    assert (orange.asn, orange.operator, orange.country) == (3215, "Orange S.A.", "FR")
    assert (cloudflare.asn, cloudflare.country) == (13335, "AU")


def test_ipinfo_lite_layout(tmp_path: Path) -> None:
    """IPinfo lite's ``"AS…"`` text numbers, ``as_name`` and ``country_code`` are read."""
    path = build_mmdb(
        tmp_path / "ipinfo_lite.mmdb",
        "ipinfo ipinfo_lite.mmdb",
        {
            "8.8.8.0/24": {
                "asn": "AS15169",
                "as_name": "Google LLC",
                "as_domain": "google.com",
                "country_code": "US",
                "country": "United States",
                "continent_code": "NA",
                "continent": "North America",
            },
            "2a01:e00::/26": {"asn": "AS12322", "as_name": "Free SAS", "country_code": "FR"},
        },
    )
    found = read("ipinfo-lite", path)
    assert found["8.8.8.0/24"] == (15169, "Google LLC", "US", NetworkKind.UNKNOWN)
    assert found["2a01:e00::/26"] == (12322, "Free SAS", "FR", NetworkKind.UNKNOWN)


def test_a_bad_value_in_a_record_names_the_file_and_network(tmp_path: Path) -> None:
    """A record whose AS number is not one is refused with the file and the network."""
    path = build_mmdb(tmp_path / "odd.mmdb", "ipinfo_lite.mmdb", {"8.8.8.0/24": {"asn": "Google"}})
    with pytest.raises(InputError, match=r"odd\.mmdb at 8\.8\.8\.0/24: not an AS number"):
        read("ipinfo-lite", path)


def test_the_wrong_database_for_a_format_is_refused() -> None:
    """A Country database given as an ASN one is an error, not a table without AS numbers."""
    with pytest.raises(InputError, match=r"GeoLite2-Country-Test\.mmdb: no network carries"):
        import_networks([NetworkSource("geolite2-asn", DATA / "GeoLite2-Country-Test.mmdb")])


@pytest.mark.parametrize(
    "name",
    [
        "libmaxminddb-metadata-marker-only.mmdb",
        "libmaxminddb-oversized-map.mmdb",
        "libmaxminddb-deep-nesting.mmdb",
    ],
)
def test_corrupt_databases_are_clear_errors_naming_the_file(name: str) -> None:
    """MaxMind's corrupt test files raise `InputError` naming the file, never an empty table."""
    with pytest.raises(InputError, match=rf"{re.escape(name)}: not a readable MaxMind DB file"):
        import_networks([NetworkSource("geolite2-asn", DATA / name)])


def test_a_truncated_database_is_a_clear_error(tmp_path: Path) -> None:
    """A download cut short (metadata lost) is refused naming the file."""
    whole = (DATA / "GeoLite2-ASN-Test.mmdb").read_bytes()
    cut = tmp_path / "GeoLite2-ASN.mmdb"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match=r"GeoLite2-ASN\.mmdb: not a readable MaxMind DB file"):
        import_networks([NetworkSource("geolite2-asn", cut)])


def test_a_missing_database_is_a_clear_error(tmp_path: Path) -> None:
    """A source that is not there is an `InputError` naming it."""
    with pytest.raises(InputError, match=r"absent\.mmdb: no such file"):
        import_networks([NetworkSource("geolite2-country", tmp_path / "absent.mmdb")])


def test_a_directory_is_not_a_database(tmp_path: Path) -> None:
    """Giving a directory where a file is expected is refused naming it."""
    shutil.copy(DATA / "GeoLite2-ASN-Test.mmdb", tmp_path / "copy.mmdb")
    with pytest.raises(InputError, match="no such file"):
        import_networks([NetworkSource("geolite2-asn", tmp_path)])
