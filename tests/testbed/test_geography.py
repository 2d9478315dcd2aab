"""Tests of the testbed's reference geography tables and the network table."""

from __future__ import annotations

import ipaddress
import itertools
import math

import numpy as np
import pytest

from rempart.errors import ConfigError
from rempart.testbed.geography import (
    NetworkKind,
    NetworkRange,
    NetworkTable,
    birth_countries,
    browser_user_agents,
    department,
    departments,
    is_overseas,
    network_ranges,
    network_table,
)

OVERSEAS = {"971", "972", "973", "974", "976"}
OVERSEAS_TIMEZONES = {
    "971": "America/Guadeloupe",
    "972": "America/Martinique",
    "973": "America/Cayenne",
    "974": "Indian/Reunion",
    "976": "Indian/Mayotte",
}


def test_there_are_101_departments_with_unique_codes() -> None:
    """The table lists each of the 101 departments exactly once."""
    codes = [d.code for d in departments()]
    assert len(codes) == 101
    assert len(set(codes)) == 101


def test_codes_include_corsica_and_overseas_but_not_20() -> None:
    """Corsica is 2A/2B (never 20) and the five overseas departments are present."""
    codes = {d.code for d in departments()}
    assert {"2A", "2B"} | OVERSEAS <= codes
    assert "20" not in codes
    assert {f"{n:02d}" for n in range(1, 96) if n != 20} <= codes


def test_total_population_is_that_of_france() -> None:
    """The rounded populations add up to France's 66 to 69 million inhabitants."""
    total = sum(d.population for d in departments())
    assert 66_000_000 <= total <= 69_000_000
    assert all(d.population % 1000 == 0 for d in departments())


def test_neighbour_relation_is_symmetric_and_closed() -> None:
    """Every neighbour exists and lists the department back as its neighbour."""
    by_code = {d.code: d for d in departments()}
    for record in departments():
        for neighbour in record.neighbours:
            assert neighbour in by_code, (record.code, neighbour)
            assert record.code in by_code[neighbour].neighbours, (record.code, neighbour)


def test_islands_have_no_neighbours_but_corsica_halves_touch() -> None:
    """Overseas departments have no land neighbour; the two Corsican departments touch."""
    assert all(department(code).neighbours == () for code in OVERSEAS)
    assert department("2A").neighbours == ("2B",)
    assert all(d.neighbours for d in departments() if not d.overseas)


def test_timezones_follow_the_department() -> None:
    """Metropolitan France (Corsica included) is on Paris time; each DOM has its own zone."""
    for record in departments():
        assert record.timezone == OVERSEAS_TIMEZONES.get(record.code, "Europe/Paris")


def test_department_lookup_and_overseas_flag() -> None:
    """A known code returns its record and its overseas flag."""
    assert department("75").name == "Paris"
    assert department("976").name == "Mayotte"
    assert is_overseas("971")
    assert not is_overseas("2B")


def test_unknown_department_raises_config_error() -> None:
    """An unknown code, such as the retired 20, is a ConfigError naming the key."""
    with pytest.raises(ConfigError, match="department: expected a French department code"):
        department("20")
    with pytest.raises(ConfigError):
        is_overseas("99")


def test_birth_country_codes_and_weights() -> None:
    """Birth countries carry 5-digit INSEE codes starting with 99 and positive weights."""
    countries = birth_countries()
    assert len(countries) >= 15
    for country in countries:
        assert len(country.code) == 5
        assert country.code.isdigit()
        assert country.code.startswith("99")
        assert country.weight > 0
    assert len({c.code for c in countries}) == len(countries)
    assert sum(c.weight for c in countries) <= 1


def test_network_prefixes_are_valid_global_and_disjoint() -> None:
    """Every prefix parses strictly, is globally routable and overlaps no other row."""
    ranges = network_ranges()
    for network in ranges:
        assert ipaddress.ip_network(str(network.prefix), strict=True) == network.prefix
        assert network.prefix.is_global, network.prefix
        assert not network.prefix.is_private
        assert not network.prefix.is_reserved
        assert not network.prefix.is_multicast
        assert len(network.country) == 2
        assert network.country.isupper()
    for a, b in itertools.combinations(ranges, 2):
        if a.prefix.version == b.prefix.version:
            assert not a.prefix.overlaps(b.prefix), (a.prefix, b.prefix)


def test_every_network_kind_is_present() -> None:
    """Each kind of network the testbed simulates has a range, and IPv6 is represented."""
    kinds = {network.kind for network in network_ranges()}
    simulated = {"fixed", "mobile", "hosting", "vpn", "foreign_fixed"}
    assert kinds == {NetworkKind(kind) for kind in simulated}
    assert any(network.prefix.version == 6 for network in network_ranges())


def test_lookup_of_a_sampled_address_returns_its_range() -> None:
    """An address sampled inside any range is looked up back to that range."""
    table = network_table()
    rng = np.random.default_rng(2022)
    for network in table.ranges:
        for address in table.sample_addresses(rng, network, 25):
            assert table.lookup(address) == network
            parsed = ipaddress.ip_address(address)
            assert parsed in network.prefix
            assert parsed != network.prefix.network_address
            if network.prefix.version == 4:
                assert parsed != network.prefix.broadcast_address


def test_lookup_misses_outside_known_ranges_and_on_garbage() -> None:
    """Addresses outside every range, and strings that are not addresses, give None."""
    table = network_table()
    assert table.lookup("192.0.2.1") is None
    assert table.lookup("2001:db8::1") is None
    assert table.lookup("not an address") is None
    assert table.lookup("") is None


def test_lookup_prefers_the_longest_prefix() -> None:
    """A nested range wins over the range that contains it."""
    wide = NetworkRange(ipaddress.ip_network("10.0.0.0/8"), 64496, "Wide", "FR", NetworkKind.FIXED)
    narrow = NetworkRange(
        ipaddress.ip_network("10.1.0.0/16"), 64497, "Narrow", "FR", NetworkKind.MOBILE
    )
    table = NetworkTable([narrow, wide])
    assert table.lookup("10.1.2.3") == narrow
    assert table.lookup("10.2.0.1") == wide
    assert table.lookup("11.0.0.1") is None


def test_ranges_of_filters_by_kind_country_and_operator() -> None:
    """ranges_of keeps only the ranges matching every given criterion."""
    table = network_table()
    orange = table.ranges_of(NetworkKind.FIXED, country="FR", operator="Orange")
    assert orange
    assert all(r.kind == NetworkKind.FIXED and r.operator == "Orange" for r in orange)
    assert table.ranges_of(NetworkKind.FOREIGN_FIXED, country="FR") == ()
    assert {r.country for r in table.ranges_of(NetworkKind.FIXED)} == {"FR"}


def test_sampling_is_deterministic_for_a_seed() -> None:
    """The same seed draws the same addresses, IPv4 and IPv6 alike."""
    table = network_table()
    chosen = [table.ranges[0], *(r for r in table.ranges if r.prefix.version == 6)]
    for network in chosen:
        first = table.sample_addresses(np.random.default_rng(5), network, 50)
        second = table.sample_addresses(np.random.default_rng(5), network, 50)
        assert first == second
        assert len(set(first)) > 40
        assert table.sample_address(np.random.default_rng(5), network) == first[0]


def test_tiny_ranges_sample_their_only_addresses() -> None:
    """A /32 yields its single address and a /31 only its two addresses."""
    rng = np.random.default_rng(0)
    host = NetworkRange(ipaddress.ip_network("192.0.2.7/32"), 64496, "Doc", "FR", NetworkKind.VPN)
    pair = NetworkRange(ipaddress.ip_network("192.0.2.8/31"), 64496, "Doc", "FR", NetworkKind.VPN)
    assert set(NetworkTable.sample_addresses(rng, host, 5)) == {"192.0.2.7"}
    assert set(NetworkTable.sample_addresses(rng, pair, 50)) == {"192.0.2.8", "192.0.2.9"}


def test_duplicate_prefixes_are_rejected() -> None:
    """A table cannot hold the same prefix twice."""
    network = network_ranges()[0]
    with pytest.raises(ConfigError, match="distinct prefixes"):
        NetworkTable([network, network])


def test_browser_weights_sum_to_one() -> None:
    """Browser user-agent weights are positive and sum to 1."""
    agents = browser_user_agents()
    assert len(agents) >= 10
    assert all(ua.startswith("Mozilla/5.0 (") and weight > 0 for ua, weight in agents)
    assert math.isclose(sum(weight for _, weight in agents), 1.0, abs_tol=1e-9)
