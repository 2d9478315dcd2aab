"""Tests of ``rempart networks``: import end to end, formats, lookup, errors."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from rempart.cli import main
from rempart.networks import NetworkKind, read_networks

from .sources import DATA


def test_import_writes_a_table_the_guard_reads(tmp_path: Path) -> None:
    """Databases and lists merge into a CSV that `read_networks` loads and looks up."""
    hosting = tmp_path / "hosting.txt"
    hosting.write_text("1.0.0.0/24 Cloud hoster\n")
    out = tmp_path / "networks.csv"
    result = CliRunner().invoke(
        main,
        [
            "networks",
            "import",
            "--out",
            str(out),
            f"geolite2-asn:{DATA / 'GeoLite2-ASN-Test.mmdb'}",
            f"geolite2-country:{DATA / 'GeoLite2-Country-Test.mmdb'}",
            f"hosting:{hosting}",
        ],
    )
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    assert "with an AS" in result.output
    table = read_networks(out)
    google = table.lookup("1.0.0.1")
    assert google is not None
    assert (google.asn, google.operator, google.kind) == (15169, "Google Inc.", NetworkKind.HOSTING)
    assert table.lookup("2a02:d340::1").country == "FR"  # type: ignore[union-attr]

    looked_up = CliRunner().invoke(main, ["networks", "lookup", str(out), "1.0.0.1", "192.0.2.1"])
    assert looked_up.exit_code == 0, looked_up.output
    assert looked_up.output.splitlines() == [
        "1.0.0.1\t1.0.0.0/24\tAS15169\tGoogle Inc.\t??\thosting",
        "192.0.2.1\t-",
    ]


def test_import_summary_as_json(tmp_path: Path) -> None:
    """``--json`` prints counts per family, with an AS, with a country and per kind."""
    vpn = tmp_path / "vpn.txt"
    vpn.write_text("192.0.2.0/24\n2001:db8::/32\n")
    result = CliRunner().invoke(
        main, ["networks", "import", "--json", "--out", str(tmp_path / "t.csv"), f"vpn:{vpn}"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "ranges": 2,
        "ipv4": 1,
        "ipv6": 1,
        "with_asn": 0,
        "with_country": 0,
        "kinds": {"vpn": 2},
    }


def test_a_corrupt_source_exits_2_naming_it_and_writes_nothing(tmp_path: Path) -> None:
    """A corrupt database is reported as ``rempart: error:`` with its path; no table is written."""
    out = tmp_path / "networks.csv"
    bad = DATA / "libmaxminddb-oversized-map.mmdb"
    result = CliRunner().invoke(
        main, ["networks", "import", "--out", str(out), f"geolite2-asn:{bad}"]
    )
    assert result.exit_code == 2
    assert f"rempart: error: {bad}: not a readable MaxMind DB file" in result.output
    assert not out.exists()


def test_formats_lists_every_built_in_format() -> None:
    """``rempart networks formats`` names each format with what it reads."""
    result = CliRunner().invoke(main, ["networks", "formats"])
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.splitlines()]
    assert {
        "geolite2-asn",
        "geolite2-country",
        "dbip-asn",
        "ipinfo-lite",
        "iptoasn",
        "aws",
        "gcp",
        "azure",
        "hosting",
        "vpn",
    } <= set(names)
