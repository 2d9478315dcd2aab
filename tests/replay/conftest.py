"""The small simulated directory and its evaluation, built once per session for replay tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rempart.replay import evaluate
from rempart.testbed.presets import preset
from rempart.testbed.simulate import simulate


@pytest.fixture(scope="session")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small preset, seed 1, as Parquet."""
    out = tmp_path_factory.mktemp("replay-small-seed1")
    simulate(preset("small"), out, seed=1)
    return out


@pytest.fixture(scope="session")
def evaluation_report(small_dir: Path) -> dict[str, Any]:
    """``evaluate(small_dir).to_dict()``, computed once."""
    return evaluate(small_dir).to_dict()
