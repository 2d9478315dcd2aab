"""``rempart replay`` invoked the way the replay tests need it, in one place."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from rempart.cli import main


def run_replay(directory: Path, source: Path, out: Path, *extra: str) -> Result:
    """``rempart replay SOURCE --world DIRECTORY/world --out OUT EXTRA...``, captured."""
    return CliRunner().invoke(
        main,
        ["replay", str(source), "--world", str(directory / "world"), "--out", str(out), *extra],
    )
