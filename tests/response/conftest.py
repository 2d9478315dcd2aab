"""Ledger fixtures for the response tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rempart.response import ActionLedger, JsonlLedger, MemoryLedger


@pytest.fixture(params=["memory", "jsonl"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ActionLedger]:
    """Each ledger implementation, empty."""
    if request.param == "memory":
        yield MemoryLedger()
        return
    with JsonlLedger(tmp_path / "actions.jsonl") as jsonl:
        yield jsonl
