"""A small simulated world, a real in-process SMTP server, and the guarded portal over them."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from aiosmtpd.controller import Controller

from rempart.guard import Knowledge
from rempart.testbed.presets import preset
from rempart.testbed.simulate import simulate

from .world import Outbox, PortalClient


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small preset, seed 1."""
    out = tmp_path_factory.mktemp("portal-world")
    simulate(preset("small"), out, seed=1)
    return out


@pytest.fixture(scope="session")
def patients(world_dir: Path) -> list[dict[str, str]]:
    """A hundred real (non-canary) patients of the world: NIR, surname, birth date."""
    table = pq.read_table(
        world_dir / "identities" / "identities.parquet",
        columns=["nir", "surname", "birth_date", "canary"],
    ).to_pylist()
    return [
        {"nir": row["nir"], "surname": row["surname"], "birth_date": row["birth_date"].isoformat()}
        for row in table
        if not row["canary"]
    ][:100]


@pytest.fixture(scope="session")
def knowledge(world_dir: Path) -> Knowledge:
    """The world's directory, canaries and network table (read-only, shared)."""
    return Knowledge.from_world(world_dir / "world")


@pytest.fixture
def smtp() -> Iterator[tuple[int, Outbox]]:
    """A real SMTP server on loopback, on a free port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outbox = Outbox()
    controller = Controller(outbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, outbox
    finally:
        controller.stop()


@pytest.fixture
def portal_client(world_dir: Path, knowledge: Knowledge, smtp: tuple[int, Outbox]) -> PortalClient:
    """A fresh guard and portal over the shared world."""
    return PortalClient(world_dir, knowledge, smtp[0])
