"""Per-address throttling of failed authentications: a wrong key too many, then 429 for a while.

A client address that presented ``limit`` wrong (or no) keys within one
``window`` of seconds is told to come back later (HTTP 429 with
``Retry-After``) for the rest of that window, and its wrong keys are no
longer checked, logged or verified slowly. A *right* key from that address
still passes (the check is cheap): a flood sharing the portal's address, or
its NAT, cannot lock the portal out.

Memory is bounded: at most ``max_addresses`` addresses are tracked, the
least recently failing forgotten first (so a flood from ever-new addresses
costs a bounded table, and each of those addresses its ``limit`` failures).

>>> now = [0.0]
>>> throttle = FailureThrottle(limit=2, window=60.0, clock=lambda: now[0])
>>> throttle.failed("203.0.113.9"), throttle.failed("203.0.113.9")
(False, True)
>>> throttle.retry_after("203.0.113.9")
60
>>> now[0] = 61.0
>>> throttle.retry_after("203.0.113.9") is None
True
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from rempart.errors import ConfigError

__all__ = ["FailureThrottle"]


class FailureThrottle:
    """Counts failed authentications per client address in fixed windows.

    ``limit``: failures allowed per address and window; ``window``: its
    length in seconds of ``clock`` (monotonic); ``max_addresses``: the most
    addresses tracked at once.
    """

    def __init__(
        self,
        limit: int = 20,
        window: float = 60.0,
        *,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1:
            raise ConfigError("limit", "a positive number of failures", limit)
        if not window > 0:
            raise ConfigError("window", "a positive number of seconds", window)
        if max_addresses < 1:
            raise ConfigError("max_addresses", "a positive integer", max_addresses)
        self.limit = limit
        self.window = window
        self.max_addresses = max_addresses
        self.clock = clock
        # address -> [window start, failures]; dict order is the order of last failure.
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._failures)

    def retry_after(self, address: str) -> int | None:
        """Whole seconds until ``address`` may try again, or None when it is not throttled."""
        entry = self._failures.get(address)
        if entry is None or entry[1] < self.limit:
            return None
        left = entry[0] + self.window - self.clock()
        return math.ceil(left) if left > 0 else None

    def failed(self, address: str) -> bool:
        """Count one failure from ``address``; True when it has just become throttled."""
        now = self.clock()
        with self._lock:
            entry = self._failures.pop(address, None)
            if entry is None or now - entry[0] >= self.window:
                entry = [now, 0.0]
            entry[1] += 1
            self._failures[address] = entry  # last failed: newest in the order
            if len(self._failures) > self.max_addresses:
                del self._failures[next(iter(self._failures))]
            return entry[1] == self.limit
