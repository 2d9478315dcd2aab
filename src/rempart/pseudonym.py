"""Keyed pseudonyms of the NIR: what the detection path sees instead of the clear number.

A pseudonym is ``ps_`` followed by 24 base32 characters (120 bits) of
HMAC-SHA256 over the compact NIR under a secret key. Without the key, a
pseudonym cannot be linked back to a NIR, even by trying every possible NIR
(there are only about 10^13). With the key, the notice plane recomputes it
from the clear identity. The event schema only accepts this form, so a clear
NIR that slips into an event is rejected as a bad record.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Iterable
from typing import Final

import numpy as np
import numpy.typing as npt

from rempart.errors import ConfigError
from rempart.nir import validate_nir
from rempart.secret import Secret

__all__ = ["PSEUDONYM_PATTERN", "Pseudonymizer", "is_pseudonym"]

PSEUDONYM_PATTERN: Final = "^ps_[a-z2-7]{24}$"
_PSEUDONYM = re.compile(PSEUDONYM_PATTERN)
_MIN_KEY_BYTES: Final = 16
_DIGEST_BYTES: Final = 15  # 120 bits, 24 base32 characters
_BASE32: Final = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz234567", dtype=np.uint8)


def is_pseudonym(value: str) -> bool:
    """Whether ``value`` has the pseudonym form (and so is not a clear NIR)."""
    return _PSEUDONYM.match(value) is not None


class Pseudonymizer:
    """Maps a NIR to its keyed pseudonym.

    >>> p = Pseudonymizer(Secret(b"0123456789abcdef"))
    >>> p.pseudonym("253072B07300470")
    'ps_a66jp4f5cf2amwvzq22fdsqj'
    >>> p.pseudonym("2 53 07 2B 073 004 70") == p.pseudonym("253072B07300470")
    True
    """

    __slots__ = ("_key",)

    def __init__(self, key: Secret) -> None:
        if len(key.reveal()) < _MIN_KEY_BYTES:
            raise ConfigError("pseudonym_key", f"at least {_MIN_KEY_BYTES} bytes", "a shorter key")
        self._key = key.reveal()

    def pseudonym(self, nir: str) -> str:
        """The pseudonym of a NIR; raises `rempart.errors.NirError` for an invalid one."""
        return self.pseudonym_of_valid(validate_nir(nir))

    def pseudonym_of_valid(self, compact_nir: str) -> str:
        """The pseudonym of a NIR already validated and compacted."""
        digest = hmac.digest(self._key, compact_nir.encode("ascii"), "sha256")
        return "ps_" + base64.b32encode(digest[:_DIGEST_BYTES]).decode("ascii").lower()

    def pseudonyms_of_valid(self, compact_nirs: Iterable[str]) -> npt.NDArray[np.object_]:
        """Pseudonyms of many validated NIRs at once, equal to `pseudonym_of_valid` of each.

        The base32 encoding is vectorised: 15 digest bytes are three 40-bit
        groups of eight 5-bit characters.
        """
        key = self._key
        joined = b"".join(
            hmac.digest(key, nir.encode("ascii"), "sha256")[:_DIGEST_BYTES] for nir in compact_nirs
        )
        groups = np.frombuffer(joined, dtype=np.uint8).reshape(-1, 3, 5).astype(np.uint64)
        weights = np.array([32, 24, 16, 8, 0], dtype=np.uint64)
        values = (groups << weights).sum(axis=2, dtype=np.uint64)
        shifts = np.arange(35, -1, -5, dtype=np.uint64)
        indices = (values[..., None] >> shifts) & np.uint64(31)
        letters = _BASE32[indices.reshape(len(values), 24)]
        encoded = letters.view(f"S{24}").ravel()
        return np.array(["ps_" + text.decode("ascii") for text in encoded], dtype=object)
