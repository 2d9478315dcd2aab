"""What the guard knows, loaded from a world directory: the directory, the canaries and the
network table (the world's own, another file, or none), and a clear error on a bad record."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from rempart.directory import Account, Profession, Site, SiteKind
from rempart.errors import InputError
from rempart.guard import Knowledge
from rempart.networks import NetworkTable
from rempart.testing import pseudonym_for

from .test_guard import HOURS

COLUMNS = "prefix,asn,operator,country,kind\n"


def _world(tmp_path: Path, *, accounts: bytes | None = None) -> Path:
    """A world of one pharmacy and two pharmacists, two canaries and one network range."""
    world = tmp_path / "world"
    world.mkdir()
    site = Site(
        site="S1",
        kind=SiteKind.PHARMACY,
        department="75",
        commune="75056",
        timezone="Europe/Paris",
        hours=HOURS,
    )
    (world / "sites.jsonl").write_bytes(msgspec.json.encode(site) + b"\n")
    if accounts is None:
        accounts = b"".join(
            msgspec.json.encode(Account(account=name, profession=Profession.GP, site="S1")) + b"\n"
            for name in ("A1", "A2")
        )
    (world / "accounts.jsonl").write_bytes(accounts)
    (world / "canaries.txt").write_text(f"{pseudonym_for(1)}\n{pseudonym_for(2)}\n")
    (world / "networks.csv").write_text(COLUMNS + "51.75.0.0/16,16276,OVH,FR,hosting\n")
    return world


def test_from_world_reads_the_directory_canaries_and_networks(tmp_path: Path) -> None:
    """Sites and accounts by id, every canary, and the world's own network table."""
    knowledge = Knowledge.from_world(_world(tmp_path))
    assert set(knowledge.sites) == {"S1"}
    assert set(knowledge.accounts) == {"A1", "A2"}
    assert knowledge.accounts["A2"].account == "A2"
    assert knowledge.canaries == frozenset({pseudonym_for(1), pseudonym_for(2)})
    network = knowledge.networks.lookup("51.75.3.4")
    assert network is not None
    assert (network.asn, network.operator, network.kind.value) == (16276, "OVH", "hosting")
    assert knowledge.profession("A1") == "gp"
    assert knowledge.profession("Z9") is None


def test_from_world_without_canaries_or_networks(tmp_path: Path) -> None:
    """No ``canaries.txt`` means none; no ``networks.csv`` means an empty table."""
    world = _world(tmp_path)
    (world / "canaries.txt").unlink()
    (world / "networks.csv").unlink()
    knowledge = Knowledge.from_world(world)
    assert knowledge.canaries == frozenset()
    assert len(knowledge.networks) == 0


def test_from_world_takes_the_network_table_it_is_given(tmp_path: Path) -> None:
    """A table file given replaces the world's; so does a table, an empty one included."""
    world = _world(tmp_path)
    other = tmp_path / "imported.csv"
    other.write_text(COLUMNS + "82.64.0.0/16,12322,Free,FR,fixed\n")
    imported = Knowledge.from_world(world, networks=other).networks
    assert imported.lookup("51.75.3.4") is None
    free = imported.lookup("82.64.1.2")
    assert free is not None
    assert free.operator == "Free"
    empty = NetworkTable(())
    assert Knowledge.from_world(world, networks=empty).networks is empty


def test_a_bad_directory_record_stops_the_load_naming_it(tmp_path: Path) -> None:
    """A bad account line is an error giving the count of bad records and the first one's
    location, never a half-read directory."""
    good = msgspec.json.encode(Account(account="A1", profession=Profession.GP, site="S1"))
    world = _world(tmp_path, accounts=good + b'\n{"account": 7}\n{"account": 8}\n')
    with pytest.raises(InputError) as raised:
        Knowledge.from_world(world)
    message = str(raised.value)
    assert message.startswith("2 bad directory records; first: ")
    assert "accounts.jsonl:2" in message
