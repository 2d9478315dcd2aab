"""API keys of the decision API: a role, scopes, and a SHA-256 digest checked in constant time.

Each key has a role, and a role opens one part of the API only:

- ``portal`` keys (``rk_<id>_<secret>``, ``Authorization: Bearer``) call
  the decision API, each endpoint only with the scope it needs (`SCOPES`):
  ``decide`` (decisions and step-up outcomes), ``evidence`` (care evidence),
  ``read`` (an account's state, the metrics), ``admin`` (lifting locks and
  bans). A new key gets ``decide`` and ``evidence`` unless told otherwise:
  the portal's own key cannot lift what the guard decided.
- ``bouncer`` keys (``rb_<id>_<secret>``, CrowdSec's ``X-Api-Key``) read
  ``GET /v1/decisions/stream`` and nothing else.

The clear key is shown once, by `ApiKeys.generate`; the key file holds
``{"keys": [{"id", "hash", "label", "role", "scopes"}]}`` and nothing that
opens the API.

Why SHA-256 and not argon2. The secret is 256 random bits, not a password:
there is no dictionary to try, and a slow hash adds nothing against guessing
it, whether online or from a stolen key file (GitHub stores its tokens the
same way). What a slow hash *does* add is a price every wrong key makes the
*server* pay: when keys were argon2id hashes, 60 clients sending wrong keys
at 8 requests a second held legitimate decisions up for seconds. So a
presented key costs one SHA-256 and one constant-time comparison, on the
event loop, whatever it is: a right key, a wrong secret for a known id, or
an unknown id (compared against a decoy digest). The three take the same
steps, so timing does not reveal which ids exist, and a forgery costs the
attacker more than it costs us.

Key files written before this change hold argon2id hashes for portal keys
(``$argon2id$...``); they still open the API. Such a key is checked with
argon2 once, then remembered by its SHA-256 for the life of the process.
Only a well-formed key naming a *known* legacy id ever reaches argon2, and
`rempart.service.api` runs those checks one at a time away from the
decisions' thread pool, behind the per-address failure throttle; an unknown
id never does. Replace legacy keys (`rempart keys add`, then `revoke`) to
drop that path: a known legacy id answers a wrong secret more slowly than an
unknown id.

The key file is read again when it changes (at most once per
``reload_interval`` seconds, by its size, modification time and inode), so a
`rempart keys revoke` takes effect on a running server within a second.

>>> keys = ApiKeys()
>>> key_id, clear = keys.generate("portal")
>>> clear
Secret('**********')
>>> keys.verify(clear.reveal().decode()) == key_id
True
>>> keys.verify("rk_000000000000_" + "x" * 43) is None
True
>>> keys.get(key_id).scopes
('decide', 'evidence')
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
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Annotated, Final, Literal, NamedTuple, get_args

import msgspec
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from rempart.errors import ConfigError
from rempart.ingestion.atomic import atomic_output
from rempart.secret import Secret

__all__ = ["DEFAULT_SCOPES", "SCOPES", "ApiKey", "ApiKeys", "Presented", "Role", "Scope"]

Role = Literal["portal", "bouncer"]
"""What a key opens: the portal's API, or the CrowdSec bouncer stream."""

Scope = Literal["decide", "evidence", "read", "admin"]
"""What a portal key may do: see the module docstring."""

SCOPES: Final[tuple[Scope, ...]] = get_args(Scope)
DEFAULT_SCOPES: Final[tuple[Scope, ...]] = ("decide", "evidence")
"""The scopes of a new portal key, and of a stored one written before scopes existed."""

_KEY: Final = re.compile(r"rk_(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})")
_BOUNCER_KEY: Final = re.compile(r"rb_(?P<id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})")
_SHA256: Final = "sha256:"
_ARGON2: Final = "$argon2id$"
_NO_DIGEST: Final = _SHA256 + "0" * 64  # compared against for an unknown id, as a real one


class ApiKey(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One stored key: its id, its hash, a label saying who holds it, its role and scopes.

    ``hash`` is ``sha256:<hex>`` (a legacy portal key's may be
    ``$argon2id$...``). ``scopes`` is None in files written before scopes
    existed: such a portal key has `DEFAULT_SCOPES`. A bouncer key has none.
    """

    id: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{12}$")]
    hash: Annotated[str, msgspec.Meta(pattern=r"^(\$argon2id\$|sha256:[0-9a-f]{64}$)")]
    label: Annotated[str, msgspec.Meta(max_length=200)] = ""
    role: Role = "portal"
    scopes: tuple[Scope, ...] | None = None

    def __post_init__(self) -> None:
        if self.role == "bouncer" and not self.hash.startswith(_SHA256):
            raise ValueError("hash: a bouncer key's hash is sha256:<hex>")
        if self.role == "bouncer" and self.scopes:
            raise ValueError("scopes: a bouncer key has none (it reads the stream only)")

    @property
    def granted(self) -> frozenset[Scope]:
        """The scopes this key opens (none for a bouncer key)."""
        if self.role == "bouncer":
            return frozenset()
        return frozenset(DEFAULT_SCOPES if self.scopes is None else self.scopes)

    @property
    def legacy(self) -> bool:
        """An argon2id hash from an older key file: checked slowly, once."""
        return self.hash.startswith(_ARGON2)


class Presented(NamedTuple):
    """What the quick check made of a presented portal key.

    ``key``: the key it opens, or None. ``slow``: it names a known legacy
    key not yet verified, so only argon2 can tell (`ApiKeys.verify_slowly`).
    """

    key: ApiKey | None
    slow: bool = False


_REFUSED: Final = Presented(None)


class _KeyFile(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    keys: list[ApiKey] = msgspec.field(default_factory=list)


def _signature(path: Path) -> tuple[int, int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_size, status.st_mtime_ns, status.st_ino)


class ApiKeys:
    """The keys allowed to call the decision API (`check`) or to read the stream (`bouncer`).

    ``hasher`` verifies legacy argon2id hashes (with the cost recorded in
    each hash). ``path`` is where `save` writes and what `refresh` watches;
    ``reload_interval`` is the most seconds of ``clock`` between two looks
    at it (0 looks at every check).
    """

    def __init__(
        self,
        keys: Iterable[ApiKey] = (),
        *,
        hasher: PasswordHasher | None = None,
        path: str | Path | None = None,
        reload_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hasher = hasher or PasswordHasher()
        self.path = Path(path) if path is not None else None
        self.reload_interval = reload_interval
        self.clock = clock
        self.reload_error: str | None = None
        self._keys: dict[str, ApiKey] = {key.id: key for key in keys}
        self._verified: dict[bytes, str] = {}  # SHA-256 of a legacy key that passed argon2
        self._signature = _signature(self.path) if self.path is not None else None
        self._looked_at = clock()
        self._reloading = threading.Lock()

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[ApiKey]:
        return iter(list(self._keys.values()))

    def get(self, key_id: str) -> ApiKey | None:
        """The key with id ``key_id``, or None."""
        return self._keys.get(key_id)

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        hasher: PasswordHasher | None = None,
        reload_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> ApiKeys:
        """Read a key file; a missing file is an empty set (`generate` then `save` creates it).

        The file is watched from then on (`refresh`).
        """
        file = Path(path)
        return cls(
            _read(file), hasher=hasher, path=file, reload_interval=reload_interval, clock=clock
        )

    def save(self, path: str | Path | None = None) -> None:
        """Write the hashes (never a clear key) to ``path`` or the file they were loaded from."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ConfigError("path", "a key file path", None)
        content = _KeyFile(keys=list(self._keys.values()))
        with atomic_output(target, private=True) as output:
            output.write(msgspec.json.format(msgspec.json.encode(content)) + b"\n")
        self.path = target
        self._signature = _signature(target)

    def generate(
        self,
        label: str = "",
        *,
        role: Role = "portal",
        scopes: Iterable[Scope] | None = None,
    ) -> tuple[str, Secret]:
        """Create a ``role`` key for ``label``; return its id and the clear key, shown this once.

        A portal key gets ``scopes`` (`DEFAULT_SCOPES` when None); a bouncer key none.
        """
        key_id = secrets.token_hex(6)
        while key_id in self._keys:  # pragma: no cover - 48 random bits
            key_id = secrets.token_hex(6)
        prefix = "rb" if role == "bouncer" else "rk"
        clear = f"{prefix}_{key_id}_{secrets.token_urlsafe(32)}"
        granted: tuple[Scope, ...] | None = None
        if role == "portal":
            chosen = DEFAULT_SCOPES if scopes is None else tuple(dict.fromkeys(scopes))
            unknown = [scope for scope in chosen if scope not in SCOPES]
            if unknown:
                raise ConfigError("scopes", f"some of {', '.join(SCOPES)}", unknown)
            granted = chosen
        elif scopes:
            raise ConfigError("scopes", "none for a bouncer key", tuple(scopes))
        key = ApiKey(id=key_id, hash=_digest(clear), label=label, role=role, scopes=granted)
        self._keys = {**self._keys, key_id: key}
        return key_id, Secret(clear)

    def revoke(self, key_id: str) -> bool:
        """Remove a key; True when it existed. Requests with it fail from now on."""
        keys = dict(self._keys)
        removed = keys.pop(key_id, None) is not None
        self._keys = keys
        self._verified = {d: k for d, k in self._verified.items() if k != key_id}
        return removed

    # -- checking -------------------------------------------------------------------

    def refresh(self) -> bool:
        """Read the key file again if it changed since it was read; True when it was.

        A file that no longer parses keeps the keys in force and sets
        ``reload_error`` (an operator's typo must not lock every caller out).
        A deleted file revokes every key.
        """
        path = self.path
        if path is None:
            return False
        signature = _signature(path)
        if signature == self._signature:
            return False
        with self._reloading:
            if signature == self._signature:  # pragma: no cover - another thread did it
                return False
            try:
                keys = {key.id: key for key in _read(path)}
            except ConfigError as error:
                self.reload_error = str(error)
                self._signature = signature
                return False
            self.reload_error = None
            self._signature = signature
            self._keys = keys
            self._verified = {d: k for d, k in self._verified.items() if k in keys}
        return True

    def _watch(self) -> None:
        if self.path is None:
            return
        now = self.clock()
        if now - self._looked_at >= self.reload_interval:
            self._looked_at = now
            self.refresh()

    def check(self, presented: str) -> Presented:
        """The portal key ``presented`` opens, by one SHA-256 and a constant-time comparison.

        A legacy argon2id key not yet verified comes back with ``slow`` set.
        """
        self._watch()
        match = _KEY.fullmatch(presented)
        if match is None:
            return _REFUSED  # malformed (or a bouncer key): says nothing about the stored keys
        key = self._keys.get(match.group("id"))
        if key is not None and key.role != "portal":
            key = None
        if key is not None and key.legacy:
            known = self._verified.get(hashlib.sha256(presented.encode()).digest())
            if known == key.id:
                return Presented(key)
            return Presented(None, slow=True)
        stored = key.hash if key is not None else _NO_DIGEST
        # Constant time, and the same steps for an unknown id as for a wrong secret.
        if not hmac.compare_digest(_digest(presented), stored) or key is None:
            return _REFUSED
        return Presented(key)

    def verify_slowly(self, presented: str) -> ApiKey | None:
        """The legacy key ``presented`` opens, checked with argon2 (tens of milliseconds)."""
        match = _KEY.fullmatch(presented)
        key = self._keys.get(match.group("id")) if match is not None else None
        if key is None or key.role != "portal" or not key.legacy:
            return None
        try:
            passed: bool = self.hasher.verify(key.hash, presented)
        except (VerificationError, InvalidHashError):
            passed = False
        if not passed or self._keys.get(key.id) is not key:  # revoked meanwhile
            return None
        self._verified[hashlib.sha256(presented.encode()).digest()] = key.id
        return key

    def verify(self, presented: str) -> str | None:
        """The id of the portal key ``presented``, or None when it opens nothing.

        Runs argon2 for a legacy key not yet verified (use `check` on a hot path).
        """
        found = self.check(presented)
        key = self.verify_slowly(presented) if found.slow else found.key
        return key.id if key is not None else None

    def bouncer(self, presented: str) -> str | None:
        """The id of the bouncer key ``presented``, or None (one SHA-256, never argon2)."""
        self._watch()
        match = _BOUNCER_KEY.fullmatch(presented)
        if match is None:
            return None
        key = self._keys.get(match.group("id"))
        stored = key.hash if key is not None and key.role == "bouncer" else _NO_DIGEST
        # Constant time, so the comparison does not tell how much of a guess was right.
        if not hmac.compare_digest(_digest(presented), stored) or key is None:
            return None
        return key.id


def _read(file: Path) -> list[ApiKey]:
    if not file.exists():
        return []
    try:
        content = msgspec.json.decode(file.read_bytes(), type=_KeyFile)
    except (OSError, msgspec.DecodeError) as error:
        raise ConfigError(
            "keys",
            'a JSON file {"keys": [{"id", "hash", "label", "role", "scopes"}]}',
            f"{file}: {error}",
        ) from None
    return content.keys


def _digest(clear: str) -> str:
    return _SHA256 + hashlib.sha256(clear.encode()).hexdigest()
