"""Rewrite ``golden_realistic.json``: the figures `test_quality_bars` compares against.

Run ``python -m tests.replay.golden`` after a change that moves the guard's figures on
purpose, and say in the commit what moved and why.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from rempart.replay import Thief
from rempart.testbed.presets import preset
from rempart.testbed.simulate import simulate
from tests.replay.test_quality_bars import GOLDEN, SEEDS, realistic_report

_KEYS = ("exposed", "exposed_per_account_week_max", "accounts_contained", "detection_s_worst")


def main() -> None:
    """Simulate each seed, evaluate both thieves at realistic knowledge, write the figures."""
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for seed in SEEDS:
            world = Path(scratch) / f"seed{seed}"
            simulate(preset("small"), world, seed=seed)
            for thief in Thief:
                rempart = realistic_report(world, thief)["rempart"]
                figures[f"{seed}/{thief}"] = {
                    "scenarios": {
                        name: {key: row[key] for key in _KEYS}
                        for name, row in sorted(rempart["scenarios"].items())
                    },
                    "challenges": rempart["legitimate"]["challenges"],
                }
                print(f"seed {seed}, {thief}: done")
    GOLDEN.write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")


if __name__ == "__main__":
    main()
