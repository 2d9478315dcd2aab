"""What one request to the decision API may carry: size, batch, lists, nesting and event time.

Each limit is checked as early as it can be, so that an oversized request
costs little and holds nothing up:

- ``max_body_bytes`` (1 MiB): a larger ``Content-Length`` is refused before
  the body is read, a longer chunked body as soon as it goes past (413).
  Bodies are read only once the key has passed, so a caller without a key
  never makes the service buffer anything.
- ``max_depth`` (16): JSON nested deeper is refused before it is decoded
  (422 ``too_deep``); the deepest valid request is 3 levels. Without it, a
  few hundred ``[`` made the decoder recurse until Python gave up (a 500).
- ``max_batch`` (1,000, at most `MAX_BATCH`): events or pieces of evidence
  in one request (422).
- ``max_categories`` (32): data categories on one event; there are 13 kinds,
  so a longer list only repeats them (422).
- ``max_clock_skew`` (300 s): an event more than this from the server's
  clock, either way, is refused (422 ``clock_skew``), and so is care evidence
  dated more than this in the future. The guard keeps its state in event
  time; an event from far away in time would otherwise read state as
  expired that is not, or write state that is expired already.
  None turns the check off (replaying old events through the API).

Every refusal is counted in ``rempart_limited_requests_total{limit=...}``.

>>> too_deep(b'{"a": [[1]]}', 3), too_deep(b'{"a": [[[1]]]}', 3)
(False, True)
>>> too_deep(b'["[[[[[[["]', 2)  # brackets inside strings do not count
False
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from rempart.errors import ConfigError
from rempart.service.bodies import MAX_BATCH

__all__ = ["LIMITS", "RequestLimits", "too_deep"]

LIMITS: Final = ("body_size", "json_depth", "batch_size", "list_length", "clock_skew")
"""The names of the limits, as the metric's ``limit`` label gives them."""

_STRING: Final = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS: Final = bytes(byte for byte in range(256) if byte not in b"[]{}")


@dataclass(frozen=True, slots=True)
class RequestLimits:
    """The decision API's limits on one request (see the module docstring for each)."""

    max_body_bytes: int = 1_048_576
    max_depth: int = 16
    max_batch: int = MAX_BATCH
    max_categories: int = 32
    max_clock_skew: float | None = 300.0

    def __post_init__(self) -> None:
        if self.max_body_bytes < 1:
            raise ConfigError("max_body_bytes", "a positive number of bytes", self.max_body_bytes)
        if self.max_depth < 3:
            raise ConfigError("max_depth", "3 or more (the deepest valid body)", self.max_depth)
        if not 1 <= self.max_batch <= MAX_BATCH:
            raise ConfigError("max_batch", f"between 1 and {MAX_BATCH}", self.max_batch)
        if self.max_categories < 1:
            raise ConfigError("max_categories", "a positive integer", self.max_categories)
        if self.max_clock_skew is not None and not self.max_clock_skew > 0:
            raise ConfigError(
                "max_clock_skew", "a positive number of seconds, or None", self.max_clock_skew
            )


def too_deep(body: bytes, max_depth: int) -> bool:
    """Whether the JSON in ``body`` nests arrays and objects more than ``max_depth`` deep.

    Strings are blanked and everything but brackets dropped by C-level
    passes; only the brackets are walked in Python, and the walk stops at the
    first level too deep. Malformed JSON is left to the decoder to refuse.
    """
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False  # the common case: a flat event
    brackets = _STRING.sub(b'""', body).translate(None, _NOT_BRACKETS)
    depth = 0
    for byte in brackets:
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                return True
        else:
            depth -= 1
    return False
