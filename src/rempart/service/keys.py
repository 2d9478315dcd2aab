"""API keys of the decision API: portal keys hashed with argon2id, bouncer keys with SHA-256.

Each key has a role, and a role opens one part of the API only:

- ``portal`` keys (``rk_<id>_<secret>``, ``Authorization: Bearer``) call
  every endpoint but the bouncer stream;
- ``bouncer`` keys (``rb_<id>_<secret>``, CrowdSec's ``X-Api-Key``) read
  ``GET /v1/decisions/stream`` and nothing else.

The id (12 hex digits) finds the one stored hash to check, so a request
costs one verification, never one per stored key. The clear key is shown
once, by `ApiKeys.generate`; the key file holds
``{"keys": [{"id", "hash", "label", "role"}]}`` and nothing that opens the API.

Argon2 is slow on purpose. A portal key that passed once is remembered for the life
of the process by its SHA-256 (a random 256-bit key needs no slow hash to
resist guessing; the argon2 hash protects the file, the memory of a running
process holds the key anyway), so only the first request of each key pays
the argon2 price; wrong portal keys always pay it, a few at a time at most.

A bouncer polls every few seconds, from a process that may restart at any
time, and a wrong key must cost no more than a refusal: its key is checked
by SHA-256 and a constant-time comparison, never argon2. That is safe
because the secret is 256 random bits, not a password: no dictionary to try
and nothing a slow hash would add against guessing; SHA-256 keeps the file
from opening anything.

>>> from argon2 import PasswordHasher
>>> keys = ApiKeys(hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
>>> key_id, clear = keys.generate("portal")
>>> clear
Secret('**********')
>>> keys.verify(clear.reveal().decode()) == key_id
True
>>> keys.verify("rk_000000000000_" + "x" * 43) is None
True
>>> bouncer_id, bouncer_key = keys.generate("firewall", role="bouncer")
>>> presented = bouncer_key.reveal().decode()
>>> keys.bouncer(presented) == bouncer_id, keys.verify(presented)
(True, None)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Final, Literal

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from rempart.errors import ConfigError
from rempart.ingestion.atomic import atomic_output
from rempart.secret import Secret

__all__ = ["ApiKey", "ApiKeys", "Role"]

Role = Literal["portal", "bouncer"]
"""What a key opens: the portal's API, or the CrowdSec bouncer stream."""

_KEY: Final = re.compile(r"rk_(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})")
_BOUNCER_KEY: Final = re.compile(r"rb_(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})")
_SHA256: Final = "sha256:"
_NO_DIGEST: Final = _SHA256 + "0" * 64  # compared against for an unknown id, as a real one
_VERIFIERS: Final = 4  # argon2 checks at once: each takes 64 MiB and tens of milliseconds


class ApiKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One stored key: its id, its hash, a label saying who holds it, and its role.

    A ``portal`` key's hash is argon2id (``$argon2id$...``), a ``bouncer``
    key's is ``sha256:<hex>``.
    """

    id: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{12}$")]
    hash: Annotated[str, msgspec.Meta(pattern=r"^(\$argon2id\$|sha256:[0-9a-f]{64}$)")]
    label: Annotated[str, msgspec.Meta(max_length=200)] = ""
    role: Role = "portal"

    def __post_init__(self) -> None:
        if (self.role == "bouncer") != self.hash.startswith(_SHA256):
            expected = "sha256:<hex>" if self.role == "bouncer" else "$argon2id$..."
            raise ValueError(f"hash: a {self.role} key's hash is {expected}")


class _KeyFile(msgspec.Struct, forbid_unknown_fields=True):
    keys: list[ApiKey] = msgspec.field(default_factory=list)


class ApiKeys:
    """The keys allowed to call the decision API (`verify`) or to read the stream (`bouncer`).

    ``hasher`` sets the argon2id cost of new keys (the default is
    argon2-cffi's, RFC 9106's low-memory profile); verification always uses
    the cost recorded in each hash. ``path`` is where `save` writes.
    """

    def __init__(
        self,
        keys: Iterable[ApiKey] = (),
        *,
        hasher: PasswordHasher | None = None,
        path: str | Path | None = None,
    ) -> None:
        self.hasher = hasher or PasswordHasher()
        self.path = Path(path) if path is not None else None
        self._keys: dict[str, ApiKey] = {key.id: key for key in keys}
        self._verified: dict[bytes, str] = {}
        self._decoy: str | None = None
        self._verifiers = threading.BoundedSemaphore(_VERIFIERS)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[ApiKey]:
        return iter(list(self._keys.values()))

    @classmethod
    def load(cls, path: str | Path, *, hasher: PasswordHasher | None = None) -> ApiKeys:
        """Read a key file; a missing file is an empty set (`generate` then `save` creates it)."""
        file = Path(path)
        if not file.exists():
            return cls(hasher=hasher, path=file)
        try:
            content = msgspec.json.decode(file.read_bytes(), type=_KeyFile)
        except (OSError, msgspec.DecodeError) as error:
            raise ConfigError(
                "keys",
                'a JSON file {"keys": [{"id", "hash", "label", "role"}]}',
                f"{file}: {error}",
            ) from None
        return cls(content.keys, hasher=hasher, path=file)

    def save(self, path: str | Path | None = None) -> None:
        """Write the hashes (never a clear key) to ``path`` or the file they were loaded from."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ConfigError("path", "a key file path", None)
        content = _KeyFile(keys=list(self._keys.values()))
        with atomic_output(target, private=True) as output:
            output.write(msgspec.json.format(msgspec.json.encode(content)) + b"\n")
        self.path = target

    def generate(self, label: str = "", *, role: Role = "portal") -> tuple[str, Secret]:
        """Create a ``role`` key for ``label``; return its id and the clear key, shown this once."""
        key_id = secrets.token_hex(6)
        while key_id in self._keys:  # pragma: no cover - 48 random bits
            key_id = secrets.token_hex(6)
        if role == "bouncer":
            clear = f"rb_{key_id}_{secrets.token_urlsafe(32)}"
            stored = _digest(clear)
        else:
            clear = f"rk_{key_id}_{secrets.token_urlsafe(32)}"
            stored = self.hasher.hash(clear)
        self._keys[key_id] = ApiKey(id=key_id, hash=stored, label=label, role=role)
        return key_id, Secret(clear)

    def revoke(self, key_id: str) -> bool:
        """Remove a key; True when it existed. Requests with it fail from now on."""
        removed = self._keys.pop(key_id, None) is not None
        self._verified = {d: k for d, k in self._verified.items() if k != key_id}
        return removed

    def remembered(self, presented: str) -> str | None:
        """The id of ``presented`` if it already passed `verify` (microseconds, no argon2)."""
        known = self._verified.get(hashlib.sha256(presented.encode()).digest())
        return known if known is not None and known in self._keys else None

    def verify(self, presented: str) -> str | None:
        """The id of the portal key ``presented``, or None when it opens nothing."""
        match = _KEY.fullmatch(presented)
        if match is None:
            return None  # malformed (or a bouncer key): says nothing about the stored keys
        known = self.remembered(presented)
        if known is not None:
            return known
        key = self._keys.get(match.group("id"))
        if key is not None and key.role != "portal":
            key = None
        with self._verifiers:
            # An unknown id costs an argon2 check too, so timing does not reveal which ids exist.
            stored = key.hash if key is not None else self._decoy_hash()
            try:
                passed: bool = self.hasher.verify(stored, presented)
            except (VerificationError, InvalidHashError):
                passed = False
        if not passed or key is None:
            return None
        self._verified[hashlib.sha256(presented.encode()).digest()] = key.id
        return key.id

    def bouncer(self, presented: str) -> str | None:
        """The id of the bouncer key ``presented``, or None (one SHA-256, never argon2)."""
        match = _BOUNCER_KEY.fullmatch(presented)
        if match is None:
            return None
        key = self._keys.get(match.group("id"))
        stored = key.hash if key is not None and key.role == "bouncer" else _NO_DIGEST
        # Constant time, so the comparison does not tell how much of a guess was right.
        if not hmac.compare_digest(_digest(presented), stored) or key is None:
            return None
        return key.id

    def _decoy_hash(self) -> str:
        if self._decoy is None:
            self._decoy = self.hasher.hash(secrets.token_urlsafe(32))
        return self._decoy


def _digest(clear: str) -> str:
    return _SHA256 + hashlib.sha256(clear.encode()).hexdigest()
