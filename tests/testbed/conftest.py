"""Shared simulated directories: built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from rempart.testbed.presets import preset
from rempart.testbed.simulate import simulate


@pytest.fixture(scope="session")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small preset, seed 1, as Parquet."""
    out = tmp_path_factory.mktemp("small-seed1")
    simulate(preset("small"), out, seed=1)
    return out
