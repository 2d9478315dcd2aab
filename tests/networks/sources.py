"""Helpers for the network data tests: the vendored MaxMind files and an mmdb builder."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

DATA = Path(__file__).parent / "data"


def source_answers(name: str) -> dict[str, dict[str, object]]:
    """What each network of a vendored test database answers, from its ``.source.json``.

    MaxMind writes IPv4 networks of its IPv6 trees as ``::a.b.c.d/(96+n)``;
    they come back as plain IPv4 networks.
    """
    answers: dict[str, dict[str, object]] = {}
    for entry in json.loads((DATA / f"{name}.source.json").read_text(encoding="utf-8")):
        for network, record in entry.items():
            if network.startswith("::") and "." in network:
                address, length = network[2:].split("/")
                network = f"{address}/{int(length) - 96}"
            answers[network] = record
    return answers


def build_mmdb(path: Path, database_type: str, records: Mapping[str, Mapping[str, object]]) -> Path:
    """An IPv6 mmdb (IPv4 mapped in, as the vendors ship them) with ``records`` by network."""
    writer = MMDBWriter(ip_version=6, database_type=database_type, ipv4_compatible=True)
    for network, record in records.items():
        writer.insert_network(IPSet([network]), dict(record))
    writer.to_db_file(str(path))
    return path
