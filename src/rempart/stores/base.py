"""The state-store seam. Every call takes the event time: a store never reads a clock."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, NamedTuple, Protocol

__all__ = ["StateStore", "Window", "Write"]


class Window(NamedTuple):
    """A rolling window: ``period`` seconds counted at ``resolution`` seconds."""

    period: float
    resolution: float


class Write(NamedTuple):
    """One deferred update: ``add_counts``, ``add_member``, ``remove_member`` or ``put``."""

    method: Literal["add_counts", "add_member", "remove_member", "put"]
    args: tuple[Any, ...]


class StateStore(Protocol):
    """Key-value state with expiry, rolling counters and expiring sets.

    Each method is one round trip for a networked store. ``ttl`` and
    ``period`` are seconds of event time.
    """

    def add_counts(
        self, key: str, now: float, windows: tuple[Window, ...], amount: float = 1.0
    ) -> tuple[float, ...]:
        """Count ``amount`` at ``now`` in each window of ``key``; return the new totals."""
        ...

    def counts(self, key: str, now: float, windows: tuple[Window, ...]) -> tuple[float, ...]:
        """Current totals of ``key``'s windows (zeros for an unknown key)."""
        ...

    def add_member(self, key: str, member: str, now: float, ttl: float) -> bool:
        """Add ``member`` to the set ``key`` until ``now + ttl``; True when it was absent."""
        ...

    def remove_member(self, key: str, member: str, now: float) -> bool:
        """Take ``member`` out of the set ``key`` at once; True when it was there, unexpired."""
        ...

    def has_member(self, key: str, member: str, now: float) -> bool:
        """Whether ``member`` is in the set ``key`` and not expired."""
        ...

    def member_count(self, key: str, now: float) -> int:
        """How many unexpired members the set ``key`` holds."""
        ...

    def get(self, key: str, now: float) -> Any:
        """The value of ``key``, or None when absent or expired."""
        ...

    def put(self, key: str, value: Any, now: float, ttl: float) -> None:
        """Store a msgpack-serialisable ``value`` until ``now + ttl``."""
        ...

    def apply(self, writes: Sequence[Write]) -> None:
        """Carry out a decision's updates in order, atomically and in one round trip."""
        ...

    def snapshot(self) -> bytes:
        """Everything the store holds, as bytes that `restore` accepts."""
        ...

    def restore(self, data: bytes) -> None:
        """Replace the store's content with a `snapshot`."""
        ...
