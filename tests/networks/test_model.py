"""Tests of the network table model: unknown labels, the CSV shape and its legacy kind."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from rempart.errors import ConfigError, InputError, RecordError
from rempart.networks import (
    UNKNOWN_COUNTRY,
    NetworkKind,
    NetworkRange,
    NetworkTable,
    read_networks,
    write_networks,
)


def net(prefix: str, **labels: object) -> NetworkRange:
    """A range over ``prefix`` with ``labels``."""
    return NetworkRange(ipaddress.ip_network(prefix), **labels)  # type: ignore[arg-type]


def test_a_range_may_be_entirely_unlabelled() -> None:
    """AS 0, no operator, unknown country and unknown kind make a valid range."""
    blank = net("192.0.2.0/24")
    assert (blank.asn, blank.operator, blank.country, blank.kind) == (
        0,
        "",
        UNKNOWN_COUNTRY,
        NetworkKind.UNKNOWN,
    )
    assert NetworkTable([blank]).lookup("192.0.2.9") == blank


@pytest.mark.parametrize(
    ("labels", "key"),
    [
        ({"asn": -1}, "asn"),
        ({"asn": 2**32}, "asn"),
        ({"asn": True}, "asn"),
        ({"operator": "line\nbreak"}, "operator"),
        ({"operator": "x" * 201}, "operator"),
        ({"country": "fr"}, "country"),
        ({"country": ""}, "country"),
        ({"kind": "hosting"}, "kind"),
    ],
)
def test_bad_labels_are_refused_naming_the_field(labels: dict[str, object], key: str) -> None:
    """Each label is validated on construction and the error names it."""
    with pytest.raises(ConfigError) as raised:
        net("192.0.2.0/24", **labels)
    assert raised.value.key == key


def test_kind_and_country_are_independent() -> None:
    """Broadband abroad is kind fixed with a foreign country."""
    abroad = net(
        "83.32.0.0/11", asn=3352, operator="Telefonica", country="ES", kind=NetworkKind.FIXED
    )
    assert abroad.kind is NetworkKind.FIXED
    assert abroad.country == "ES"


def test_write_then_read_round_trips_unknowns(tmp_path: Path) -> None:
    """An imported table with unknown labels reads back exactly, unknowns as empty cells."""
    ranges = [
        net(
            "192.0.2.0/25",
            asn=64500,
            operator='Doc, "quoted"',
            country="FR",
            kind=NetworkKind.FIXED,
        ),
        net("192.0.2.128/25"),
        net("2001:db8::/32", operator="Cloud", kind=NetworkKind.HOSTING),
    ]
    path = tmp_path / "table.csv"
    assert write_networks(ranges, path) == 3
    lines = path.read_text().splitlines()
    assert lines[0] == "prefix,asn,operator,country,kind"
    assert lines[2] == "192.0.2.128/25,0,,,unknown"
    assert read_networks(path).ranges == tuple(ranges)


def test_legacy_foreign_fixed_reads_as_fixed_with_its_country(tmp_path: Path) -> None:
    """The testbed's ``foreign_fixed`` rows reach the guard as kind fixed, country kept."""
    path = tmp_path / "networks.csv"
    path.write_text(
        "prefix,asn,operator,country,kind\n83.32.0.0/11,3352,Telefonica,ES,foreign_fixed\n"
    )
    found = read_networks(path).lookup("83.40.1.1")
    assert found is not None
    assert (found.kind, found.country) == (NetworkKind.FIXED, "ES")


def test_a_missing_table_is_an_error_naming_it(tmp_path: Path) -> None:
    """Reading a table that is not there raises, never an empty table."""
    with pytest.raises(InputError, match=r"nowhere\.csv"):
        read_networks(tmp_path / "nowhere.csv")


@pytest.mark.parametrize(
    ("body", "line"),
    [
        ("192.0.2.0/24,x,Doc,FR,fixed\n", 2),
        ("192.0.2.0/24,1,Doc,FR,fixed\n192.0.2.0/33,1,Doc,FR,fixed\n", 3),
        ("192.0.2.0/24,1,Doc,FR,fixed\n192.0.2.0/24,2,Other,FR,fixed\n", 3),
        ("192.0.2.0/24,1,Doc,FR\n", 2),
        ("192.0.2.0/24,1,Doc,FR,satellite\n", 2),
    ],
)
def test_a_bad_row_is_located(tmp_path: Path, body: str, line: int) -> None:
    """A bad or duplicate row raises `RecordError` with the file and its line."""
    path = tmp_path / "table.csv"
    path.write_text("prefix,asn,operator,country,kind\n" + body)
    with pytest.raises(RecordError) as raised:
        read_networks(path)
    assert raised.value.source == str(path)
    assert raised.value.line == line
