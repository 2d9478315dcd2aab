"""Tests of the text and JSON importers: iptoasn TSV, cloud range lists, user lists."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from rempart.errors import InputError, RecordError
from rempart.netdata import ImportLimits, NetworkSource, default_registry, import_networks
from rempart.networks import UNKNOWN_COUNTRY, NetworkKind

IPTOASN = (
    "1.0.0.0\t1.0.0.255\t13335\tUS\tCLOUDFLARENET\n"
    "1.0.1.0\t1.0.3.255\t0\tNone\tNot routed\n"
    "2.0.0.0\t2.0.2.255\t3215\tFR\tOrange\n"
    "2a01:cb00::\t2a01:cbff:ffff:ffff:ffff:ffff:ffff:ffff\t3215\tFR\tOrange\n"
)


def claims(
    format_name: str, path: Path, limits: ImportLimits | None = None
) -> list[tuple[str, tuple[object, ...]]]:
    """What a format reads from ``path``, as text."""
    source_format = default_registry()[format_name]
    read = source_format.read(path, limits or ImportLimits())
    return [(str(network), tuple(labels)) for network, labels in read]


def test_iptoasn_ranges_become_the_fewest_covering_prefixes(tmp_path: Path) -> None:
    """A non-CIDR range (2.0.0.0 to 2.0.2.255) is cut into a /23 and a /24; unrouted rows vanish."""
    dump = tmp_path / "ip2asn-combined.tsv"
    dump.write_text(IPTOASN)
    found = claims("iptoasn", dump)
    orange = (3215, "Orange", "FR", NetworkKind.UNKNOWN)
    assert found == [
        ("1.0.0.0/24", (13335, "CLOUDFLARENET", "US", NetworkKind.UNKNOWN)),
        ("2.0.0.0/23", orange),
        ("2.0.2.0/24", orange),
        ("2a01:cb00::/24", orange),
    ]
    table = import_networks([NetworkSource("iptoasn", dump)])
    assert table.lookup("1.0.2.1") is None
    assert table.lookup("2.0.2.255").asn == 3215  # type: ignore[union-attr]


def test_iptoasn_reads_the_gzip_download(tmp_path: Path) -> None:
    """The ``.tsv.gz`` file as published reads like the plain one."""
    dump = tmp_path / "ip2asn-combined.tsv.gz"
    dump.write_bytes(gzip.compress(IPTOASN.encode()))
    assert len(claims("iptoasn", dump)) == 4


def test_a_truncated_gzip_is_a_clear_error(tmp_path: Path) -> None:
    """A download cut short is an `InputError` naming the file."""
    whole = gzip.compress((IPTOASN * 50).encode())
    dump = tmp_path / "ip2asn-combined.tsv.gz"
    dump.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(InputError, match=r"ip2asn-combined\.tsv\.gz: corrupt or truncated gzip"):
        claims("iptoasn", dump)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1.0.0.0\t1.0.0.255\t13335\tUS\n", "expected 5 tab-separated fields"),
        ("1.0.0.9\t1.0.0.0\t13335\tUS\tX\n", "not a range"),
        ("1.0.0.0\t2a01::\t13335\tUS\tX\n", "not a range"),
        ("1.0.0.0\t1.0.0.255\tAS1\tUS\tX\n", "invalid literal"),
        ("1.0.0.0\t1.0.0.255\t99999999999\tUS\tX\n", "out of range"),
        ("1.0.0.0\t1.0.0.255\t1\tUSA\tX\n", "country code"),
        ("1.0.0.256\t1.0.0.255\t1\tUS\tX\n", "does not appear to be"),
    ],
)
def test_a_bad_iptoasn_line_is_located(tmp_path: Path, line: str, message: str) -> None:
    """A bad row raises `RecordError` with the file, its line number and what is wrong."""
    dump = tmp_path / "ip2asn.tsv"
    dump.write_text(IPTOASN + line)
    with pytest.raises(RecordError, match=message) as raised:
        claims("iptoasn", dump)
    assert (raised.value.source, raised.value.line) == (str(dump), 5)


def test_an_overlong_line_is_refused_at_its_line(tmp_path: Path) -> None:
    """A line past the limit is an error at that line, not read into memory whole."""
    dump = tmp_path / "ip2asn.tsv"
    dump.write_text(IPTOASN + "1.0.0.0\t1.0.0.255\t1\tUS\t" + "x" * 5_000 + "\n")
    with pytest.raises(RecordError, match="longer than 4096 bytes") as raised:
        claims("iptoasn", dump)
    assert raised.value.line == 5


def test_undecodable_bytes_are_refused_at_their_line(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 raise `RecordError` at their line."""
    listing = tmp_path / "vpn.txt"
    listing.write_bytes(b"192.0.2.0/24\n\xff\xfe\n")
    with pytest.raises(RecordError, match="not UTF-8") as raised:
        claims("vpn", listing)
    assert raised.value.line == 2


def test_user_lists_take_comments_labels_and_bare_addresses(tmp_path: Path) -> None:
    """Comments and blanks are skipped, a name after a prefix is its operator, an address a /32."""
    listing = tmp_path / "hosting.txt"
    listing.write_text(
        "# French hosters without a published list\n\n"
        "51.75.0.0/16   OVH SAS   # Roubaix\n"
        "2001:41d0::/32\tOVH\n"
        "185.220.101.1\n"
    )
    assert claims("hosting", listing) == [
        ("51.75.0.0/16", (0, "OVH SAS", UNKNOWN_COUNTRY, NetworkKind.HOSTING)),
        ("2001:41d0::/32", (0, "OVH", UNKNOWN_COUNTRY, NetworkKind.HOSTING)),
        ("185.220.101.1/32", (0, "", UNKNOWN_COUNTRY, NetworkKind.HOSTING)),
    ]
    tor = tmp_path / "exits.txt"
    tor.write_text("185.220.101.1\n")
    assert claims("tor", tor)[0][1][3] is NetworkKind.TOR


def test_a_prefix_with_host_bits_is_refused_at_its_line(tmp_path: Path) -> None:
    """``10.0.0.1/8`` in a list is ambiguous and refused with its line."""
    listing = tmp_path / "vpn.txt"
    listing.write_text("# VPN exits\n192.0.2.0/24\n10.0.0.1/8\n")
    with pytest.raises(RecordError, match="host bits set") as raised:
        claims("vpn", listing)
    assert (raised.value.source, raised.value.line) == (str(listing), 3)


def test_an_empty_list_is_an_error_not_an_empty_table(tmp_path: Path) -> None:
    """A list with only comments is refused naming the file."""
    listing = tmp_path / "vpn.txt"
    listing.write_text("# nothing yet\n")
    with pytest.raises(InputError, match=r"vpn\.txt: no network in this vpn file"):
        import_networks([NetworkSource("vpn", listing)])


AWS = {
    "syncToken": "1",
    "createDate": "2022-03-01-00-00-00",
    "prefixes": [
        {"ip_prefix": "35.180.0.0/16", "region": "eu-west-3", "service": "AMAZON"},
        {"ip_prefix": "35.180.0.0/16", "region": "eu-west-3", "service": "EC2"},
    ],
    "ipv6_prefixes": [{"ipv6_prefix": "2a05:d012::/36", "region": "eu-west-3", "service": "EC2"}],
}
GCP = {
    "syncToken": "1",
    "creationTime": "2022-03-01T00:00:00",
    "prefixes": [
        {"ipv4Prefix": "34.1.208.0/20", "service": "Google Cloud", "scope": "europe-west9"},
        {"ipv6Prefix": "2600:1900:4000::/44", "service": "Google Cloud", "scope": "us-east1"},
    ],
}
AZURE = {
    "changeNumber": 1,
    "cloud": "Public",
    "values": [
        {
            "name": "AzureCloud.francecentral",
            "id": "AzureCloud.francecentral",
            "properties": {
                "changeNumber": 1,
                "region": "francecentral",
                "platform": "Azure",
                "systemService": "",
                "addressPrefixes": ["20.19.0.0/16", "2603:1020:800::/47"],
            },
        }
    ],
}


@pytest.mark.parametrize(
    ("format_name", "document", "address", "operator"),
    [
        ("aws", AWS, "35.180.1.2", "Amazon AWS"),
        ("aws", AWS, "2a05:d012::1", "Amazon AWS"),
        ("gcp", GCP, "34.1.209.1", "Google Cloud"),
        ("gcp", GCP, "2600:1900:4000::1", "Google Cloud"),
        ("azure", AZURE, "20.19.1.1", "Microsoft Azure"),
        ("azure", AZURE, "2603:1020:800::1", "Microsoft Azure"),
    ],
)
def test_cloud_lists_mark_hosting(
    tmp_path: Path, format_name: str, document: object, address: str, operator: str
) -> None:
    """Every prefix of a provider's published list is hosting run by that provider."""
    path = tmp_path / f"{format_name}.json"
    path.write_text(json.dumps(document))
    found = import_networks([NetworkSource(format_name, path)]).lookup(address)
    assert found is not None
    assert (found.kind, found.operator, found.asn) == (NetworkKind.HOSTING, operator, 0)


@pytest.mark.parametrize(
    ("format_name", "document", "message"),
    [
        ("aws", GCP, r"not an AWS ip-ranges.json: prefixes\[0\] has no 'ip_prefix'"),
        ("gcp", AWS, r"prefixes\[0\] has neither"),
        ("azure", AWS, "no 'values' list"),
        ("aws", {"prefixes": [{"ip_prefix": "35.180.0.0/33"}]}, r"\$.prefixes\[0\].ip_prefix"),
        ("azure", [], "no 'values' list"),
    ],
)
def test_a_list_in_the_wrong_layout_is_refused(
    tmp_path: Path, format_name: str, document: object, message: str
) -> None:
    """The wrong provider's file, or a bad prefix, is an `InputError` naming the file and where."""
    path = tmp_path / "ranges.json"
    path.write_text(json.dumps(document))
    with pytest.raises(InputError, match=message):
        import_networks([NetworkSource(format_name, path)])


def test_broken_json_is_located(tmp_path: Path) -> None:
    """A truncated JSON download raises `RecordError` at the line where it breaks."""
    path = tmp_path / "ip-ranges.json"
    path.write_text(json.dumps(AWS, indent=1)[:120])
    with pytest.raises(RecordError, match="not JSON") as raised:
        import_networks([NetworkSource("aws", path)])
    assert raised.value.source == str(path)
    assert raised.value.line > 1


def test_an_oversized_json_list_is_refused(tmp_path: Path) -> None:
    """A JSON list past ``max_json_bytes`` is refused before it is parsed."""
    path = tmp_path / "ip-ranges.json"
    path.write_text(json.dumps(AWS))
    with pytest.raises(InputError, match="larger than 100 bytes"):
        import_networks([NetworkSource("aws", path)], limits=ImportLimits(max_json_bytes=100))
