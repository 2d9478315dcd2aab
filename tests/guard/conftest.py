"""The small simulated directory, simulated and read once per session for guard tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rempart.events import Event
from rempart.evidence import CareEvidence
from rempart.guard import Knowledge
from rempart.ingestion import Rejected, iter_records
from rempart.replay.evaluation import SECOND_FACTOR_HOLDERS
from rempart.testbed.presets import preset
from rempart.testbed.simulate import simulate


@dataclass(frozen=True)
class Simulated:
    """A simulated directory's world, events and evidence, in file order."""

    directory: Path
    events: tuple[Event, ...]
    evidence: tuple[CareEvidence, ...]
    thieves: frozenset[str]
    """Event ids of attackers who would fail a step-up (all but insiders), from the truth."""

    def knowledge(self) -> Knowledge:
        """What a guard knows of this world (a new object each time)."""
        return Knowledge.from_world(self.directory / "world")


@pytest.fixture(scope="session")
def small(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    """The small preset, seed 1, as Parquet, read into memory."""
    out = tmp_path_factory.mktemp("guard-small-seed1")
    simulate(preset("small"), out, seed=1)
    rejected: list[Rejected] = []
    events = tuple(iter_records(out / "events.parquet", Event, rejected))
    evidence = tuple(iter_records(out / "evidence.parquet", CareEvidence, rejected))
    assert not rejected
    truth = pq.read_table(out / "truth.parquet").to_pylist()
    thieves = frozenset(
        row["event_id"]
        for row in truth
        if row["attacker"] is not None and row["label"] not in SECOND_FACTOR_HOLDERS
    )
    return Simulated(directory=out, events=events, evidence=evidence, thieves=thieves)
