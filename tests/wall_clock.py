"""Forbid Rempart's own code the wall clock, without touching anyone else's.

Patching ``time.monotonic`` on the `time` module itself reaches every thread of
the test process: an event loop kept alive by another test's plugin
(schemathesis's ASGI lifespan, on an anyio portal thread) then dies on its
next timer, and the teardown that waits for it hangs for ever. That is how
CI stalled for 90 minutes on 2026-12-07. So the clock functions are replaced
only where Rempart's modules look them up: the ``time`` name in each loaded
``rempart`` module.
"""

from __future__ import annotations

import sys
import time
import types
from typing import Any, NoReturn

import pytest

__all__ = ["CLOCK_FUNCTIONS", "forbid_wall_clock"]

CLOCK_FUNCTIONS = ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter")


class _NoClock(types.ModuleType):
    """A stand-in for the `time` module whose clock functions raise."""

    def __init__(self, message: str) -> None:
        super().__init__("time")
        self._message = message

    def __getattr__(self, name: str) -> Any:
        if name in CLOCK_FUNCTIONS:
            return self._refuse
        return getattr(time, name)

    def _refuse(self, *args: object) -> NoReturn:
        raise AssertionError(self._message)


def forbid_wall_clock(monkeypatch: pytest.MonkeyPatch, message: str) -> list[str]:
    """Make every ``time.<clock>()`` call in a loaded ``rempart`` module raise ``message``.

    Returns the names of the modules patched (a test can check it is not empty when a
    module it relies on reads ``time``). Undone by ``monkeypatch`` at teardown.
    """
    stand_in = _NoClock(message)
    patched = []
    for name, module in list(sys.modules.items()):
        if (name == "rempart" or name.startswith("rempart.")) and getattr(
            module, "time", None
        ) is time:
            monkeypatch.setattr(module, "time", stand_in)
            patched.append(name)
    return patched
