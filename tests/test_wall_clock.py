"""The wall-clock guard of the "never reads the wall clock" tests (tests/wall_clock.py)."""

from __future__ import annotations

import time

import pytest

from .wall_clock import forbid_wall_clock


def test_forbid_wall_clock_reaches_rempart_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Rempart module's ``time.monotonic()`` raises; the real module is left alone."""
    import rempart.stores.resilient as resilient

    patched = forbid_wall_clock(monkeypatch, "no clock here")
    assert "rempart.stores.resilient" in patched
    with pytest.raises(AssertionError, match="no clock here"):
        resilient.time.monotonic()
    assert resilient.time.sleep is time.sleep
    assert time.monotonic() > 0
