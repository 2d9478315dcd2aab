"""State stores: where the guard keeps what it remembers, behind one narrow seam.

`StateStore` is the seam; `MemoryStore` its in-process implementation
(bounded by TTL and a maximum number of keys, snapshot and restore);
`RedisStore` the shared one for many guard instances. Both pass the same
contract suite (``tests/stores/contract.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rempart.stores.base import StateStore, Window, Write
from rempart.stores.batching import BatchingStore
from rempart.stores.memory import MemoryStore

if TYPE_CHECKING:
    from rempart.stores.redis import RedisStore
    from rempart.stores.resilient import ResilientStore

__all__ = [
    "BatchingStore",
    "MemoryStore",
    "RedisStore",
    "ResilientStore",
    "StateStore",
    "Window",
    "Write",
]


def __getattr__(name: str) -> Any:
    # Imported on first use, so that the redis client is only loaded by those who use it.
    if name == "RedisStore":
        from rempart.stores.redis import RedisStore

        return RedisStore
    if name == "ResilientStore":
        from rempart.stores.resilient import ResilientStore

        return ResilientStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
