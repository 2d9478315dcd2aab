"""The simulated world the portal's security tests run against, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from rempart.guard import Knowledge
from rempart.testbed.presets import preset
from rempart.testbed.simulate import simulate


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small preset, seed 1."""
    out = tmp_path_factory.mktemp("security-portal-world")
    simulate(preset("small"), out, seed=1)
    return out


@pytest.fixture(scope="session")
def knowledge(world_dir: Path) -> Knowledge:
    """The world's directory, canaries and network table."""
    return Knowledge.from_world(world_dir / "world")
