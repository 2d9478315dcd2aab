"""Tests of merging sources into one table: precedence, nesting, IPv6, and a brute-force oracle."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from rempart.netdata import Labels, NetworkSource, import_networks, merge_labels, merge_sources
from rempart.netdata.source import Network
from rempart.networks import UNKNOWN_COUNTRY, NetworkKind, NetworkTable

from .sources import DATA

KINDS = [k for k in NetworkKind if k is not NetworkKind.FOREIGN_FIXED]


def claim(prefix: str, **labels: object) -> tuple[Network, Labels]:
    """One source's claim on ``prefix``."""
    return ipaddress.ip_network(prefix), Labels(**labels)  # type: ignore[arg-type]


def test_kind_from_lists_overrides_the_databases() -> None:
    """A hosting list inside a fixed line, and a VPN list inside the hosting range, win there."""
    connection = [claim("10.0.0.0/8", kind=NetworkKind.FIXED)]
    hosting = [claim("10.1.0.0/16", operator="OVH", kind=NetworkKind.HOSTING)]
    vpn = [claim("10.1.2.0/24", kind=NetworkKind.VPN)]
    asn = [claim("10.0.0.0/8", asn=64500, operator="Carrier", country="FR")]
    table = NetworkTable(merge_sources([asn, connection, hosting, vpn]))
    answers = {ip: table.lookup(ip) for ip in ("10.9.0.1", "10.1.9.1", "10.1.2.3")}
    assert {ip: (n.kind.value, n.asn, n.operator, n.country) for ip, n in answers.items() if n} == {
        "10.9.0.1": ("fixed", 64500, "Carrier", "FR"),
        "10.1.9.1": ("hosting", 64500, "Carrier", "FR"),
        "10.1.2.3": ("vpn", 64500, "Carrier", "FR"),
    }


def test_nested_prefixes_within_one_source_answer_by_longest_match() -> None:
    """A /24 inside a /16 inside a /8 of one database each keep their own AS."""
    source = [
        claim("10.1.2.0/24", asn=3, operator="Narrow"),
        claim("10.0.0.0/8", asn=1, operator="Wide"),
        claim("10.1.0.0/16", asn=2, operator="Middle"),
    ]
    table = NetworkTable(merge_sources([source]))
    assert [table.lookup(ip).asn for ip in ("10.200.0.1", "10.1.200.1", "10.1.2.200")] == [  # type: ignore[union-attr]
        1,
        2,
        3,
    ]
    assert table.lookup("11.0.0.1") is None
    prefixes = [r.prefix for r in table.ranges]
    assert all(not a.overlaps(b) for i, a in enumerate(prefixes) for b in prefixes[i + 1 :])


def test_earlier_sources_win_for_as_and_country_and_ipv6_is_merged_alike() -> None:
    """AS and country come from the first source that knows them; a cloud name fills a gap."""
    first = [claim("2001:db8::/32", asn=64500, operator="First")]
    second = [claim("2001:db8::/32", asn=64511, operator="Second", country="DE")]
    cloud = [
        claim("2001:db8:1::/48", operator="Cloud", kind=NetworkKind.HOSTING),
        claim("2001:db9::/32", operator="Cloud", kind=NetworkKind.HOSTING),
    ]
    table = NetworkTable(merge_sources([first, second, cloud]))
    inside = table.lookup("2001:db8:1::1")
    alone = table.lookup("2001:db9::1")
    assert inside is not None
    assert alone is not None
    assert (inside.asn, inside.operator, inside.country, inside.kind) == (
        64500,
        "First",
        "DE",
        NetworkKind.HOSTING,
    )
    assert (alone.asn, alone.operator, alone.country) == (0, "Cloud", UNKNOWN_COUNTRY)


def test_adjacent_equal_answers_are_joined() -> None:
    """Two neighbouring /25s saying the same thing come out as one /24."""
    source = [claim("192.0.2.0/25", asn=1), claim("192.0.2.128/25", asn=1)]
    assert [str(r.prefix) for r in merge_sources([source])] == ["192.0.2.0/24"]


def test_the_real_databases_merge_into_one_table() -> None:
    """ASN, Country, Anonymous-IP and Connection-Type test databases merge field by field."""
    table = import_networks(
        [
            NetworkSource("geolite2-asn", DATA / "GeoLite2-ASN-Test.mmdb"),
            NetworkSource("geolite2-country", DATA / "GeoLite2-Country-Test.mmdb"),
            NetworkSource("geoip2-anonymous-ip", DATA / "GeoIP2-Anonymous-IP-Test.mmdb"),
            NetworkSource("geoip2-connection-type", DATA / "GeoIP2-Connection-Type-Test.mmdb"),
        ]
    )
    google = table.lookup("1.0.0.1")
    tor = table.lookup("81.2.69.1")
    assert google is not None
    assert tor is not None
    assert (google.asn, google.kind) == (15169, NetworkKind.FIXED)
    assert tor.kind is NetworkKind.TOR


def test_merge_labels_ranks_kinds() -> None:
    """The most telling kind wins whatever the order of the answers."""
    answers = [Labels(kind=NetworkKind.HOSTING), None, Labels(kind=NetworkKind.MOBILE)]
    assert merge_labels(answers).kind is NetworkKind.HOSTING
    assert merge_labels([None, None]) == Labels()


@st.composite
def sources(draw: st.DrawFn) -> list[list[tuple[Network, Labels]]]:
    """Up to four sources of nested and overlapping IPv4 and IPv6 prefixes in a small space."""
    result = []
    for _ in range(draw(st.integers(1, 4))):
        claims = []
        for _ in range(draw(st.integers(0, 8))):
            if draw(st.booleans()):
                length = draw(st.integers(24, 32))
                base = 0xC0000200 + draw(st.integers(0, 255))
                network: Network = ipaddress.IPv4Network(
                    (base >> (32 - length) << (32 - length), length)
                )
            else:
                length = draw(st.integers(120, 128))
                base = (0x20010DB8 << 96) + draw(st.integers(0, 255))
                network = ipaddress.IPv6Network((base >> (128 - length) << (128 - length), length))
            labels = Labels(
                asn=draw(st.sampled_from([0, 64500, 64501])),
                operator=draw(st.sampled_from(["", "A", "B"])),
                country=draw(st.sampled_from([UNKNOWN_COUNTRY, "FR", "DE"])),
                kind=draw(st.sampled_from(KINDS)),
            )
            claims.append((network, labels))
        result.append(claims)
    return result


def brute_force(claims_by_source: list[list[tuple[Network, Labels]]], address: str) -> Labels:
    """Each source's longest match (the last listed on a tie) merged, with no cleverness."""
    ip = ipaddress.ip_address(address)
    answers: list[Labels | None] = []
    for claims in claims_by_source:
        best: tuple[int, Labels] | None = None
        for network, labels in claims:
            if ip in network and (best is None or network.prefixlen >= best[0]):
                best = (network.prefixlen, labels)
        answers.append(best[1] if best else None)
    return merge_labels(answers)


@settings(max_examples=150, deadline=None)
@given(sources())
def test_lookups_equal_a_brute_force_longest_prefix_match(
    claims_by_source: list[list[tuple[Network, Labels]]],
) -> None:
    """Every address of the space looks up in the merged table as brute force merges it."""
    table = NetworkTable(merge_sources(claims_by_source))
    for offset in range(256):
        for address in (
            str(ipaddress.IPv4Address(0xC0000200 + offset)),
            str(ipaddress.IPv6Address((0x20010DB8 << 96) + offset)),
        ):
            expected = brute_force(claims_by_source, address)
            found = table.lookup(address)
            if expected == Labels():
                assert found is None, address
            else:
                assert found is not None, address
                assert Labels(found.asn, found.operator, found.country, found.kind) == expected
