"""Tests of the testbed's network views: what the guard is told at each level of knowledge."""

from __future__ import annotations

from pathlib import Path

from rempart.networks import UNKNOWN_COUNTRY, NetworkKind
from rempart.testbed.geography import network_table
from rempart.testbed.network_views import NetworkView, network_view


def test_full_is_the_world_table_as_the_guard_reads_it() -> None:
    """The full view keeps every range and label, broadband abroad as fixed."""
    truth = network_table()
    view = network_view(truth, NetworkView.FULL, Path("unused"), seed=1)
    assert len(view) == len(truth)
    assert NetworkKind.FOREIGN_FIXED not in {r.kind for r in view.ranges}
    spain = view.lookup("83.40.1.1")
    assert spain is not None
    assert (spain.kind, spain.country) == (NetworkKind.FIXED, "ES")


def test_none_knows_nothing() -> None:
    """The none view is an empty table: every lookup misses."""
    assert len(network_view(network_table(), NetworkView.NONE, Path("unused"), seed=1)) == 0


def test_realistic_is_imported_from_real_layouts(tmp_path: Path) -> None:
    """AS and country for every address, hosting only for AWS, no VPN, a share of ranges stale."""
    truth = network_table()
    view = network_view(truth, NetworkView.REALISTIC, tmp_path, seed=3, stale_share=0.2)
    assert (tmp_path / "network-sources" / "ip2asn-combined.tsv").exists()
    assert (tmp_path / "network-sources" / "ip-ranges.json").exists()
    stale = 0
    for network in truth.ranges:
        found = view.lookup(str(network.prefix.network_address + 1))
        assert found is not None
        assert found.asn
        assert found.country != UNKNOWN_COUNTRY
        expected_kind = (
            NetworkKind.HOSTING if network.operator == "Amazon AWS" else NetworkKind.UNKNOWN
        )
        assert found.kind is expected_kind
        stale += (found.asn, found.operator) != (network.asn, network.operator)
    assert stale == round(0.2 * len(truth))
    again = network_view(truth, NetworkView.REALISTIC, tmp_path / "again", seed=3, stale_share=0.2)
    assert again.ranges == view.ranges
