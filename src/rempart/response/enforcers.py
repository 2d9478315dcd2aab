"""The enforcer seam: something that carries out (and lifts) actions of some kinds.

An enforcer receives a recorded `ActionRecord` and either carries it out or
raises; it never decides. Enforcers are registered into an `EnforcerRegistry`
you construct: the built-in ones (webhook, nftables, CrowdSec) go through the
same `register` a third party would use.

>>> from rempart.guard.decision import ActionKind
>>> class Pager:
...     name = "pager"
...     kinds = frozenset({ActionKind.ALERT})
...     def apply(self, record): print("page", record.target)
...     def lift(self, record): pass
>>> registry = EnforcerRegistry()
>>> registry.register(Pager())
>>> [enforcer.name for enforcer in registry.for_kind(ActionKind.ALERT)]
['pager']
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol, runtime_checkable

from rempart.errors import RempartError
from rempart.guard.decision import ActionKind
from rempart.response.record import ActionRecord

__all__ = ["EnforcementError", "Enforcer", "EnforcerRegistry"]


class EnforcementError(RempartError):
    """An enforcer could not carry out or lift an action (the action itself stands)."""


@runtime_checkable
class Enforcer(Protocol):
    """Carries out actions of its ``kinds``: ``apply`` a record, ``lift`` one.

    ``lift`` receives the lift record (its ``target``, ``kind``, ``trigger``
    and ``lifts``). Both raise on failure (`EnforcementError` preferably);
    the caller records the failure and goes on with the other enforcers.
    """

    @property
    def name(self) -> str:
        """A short unique name, quoted in failure messages."""
        ...

    @property
    def kinds(self) -> frozenset[ActionKind]:
        """The action kinds this enforcer handles."""
        ...

    def apply(self, record: ActionRecord) -> None:
        """Carry out ``record``."""
        ...

    def lift(self, record: ActionRecord) -> None:
        """Carry out the lift ``record``."""
        ...


class EnforcerRegistry:
    """The enforcers in use, in registration order, looked up by action kind."""

    def __init__(self) -> None:
        self._enforcers: dict[str, Enforcer] = {}

    def register(self, enforcer: Enforcer) -> None:
        """Add ``enforcer``; its name must be new."""
        if enforcer.name in self._enforcers:
            raise ValueError(f"name: an enforcer named {enforcer.name!r} is already registered")
        self._enforcers[enforcer.name] = enforcer

    def for_kind(self, kind: ActionKind) -> tuple[Enforcer, ...]:
        """The enforcers that handle ``kind``, in registration order."""
        return tuple(enforcer for enforcer in self._enforcers.values() if kind in enforcer.kinds)

    def __getitem__(self, name: str) -> Enforcer:
        return self._enforcers[name]

    def __iter__(self) -> Iterator[Enforcer]:
        return iter(tuple(self._enforcers.values()))

    def __len__(self) -> int:
        return len(self._enforcers)
