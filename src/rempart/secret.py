"""A `Secret` holds key material; its repr and str are stars so it never leaks into a log."""

from __future__ import annotations

from typing import Final

__all__ = ["Secret"]


class Secret:
    """An opaque secret value.

    >>> key = Secret(b"k" * 32)
    >>> key
    Secret('**********')
    >>> key.reveal() == b"k" * 32
    True
    """

    __slots__ = ("_value",)

    def __init__(self, value: bytes | str) -> None:
        self._value: Final = value.encode() if isinstance(value, str) else bytes(value)

    def reveal(self) -> bytes:
        """The raw bytes, for the one call that needs them."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)
