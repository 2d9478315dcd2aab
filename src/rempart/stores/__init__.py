"""State stores: where the guard keeps what it remembers, behind one narrow seam.

`StateStore` is the seam; `MemoryStore` its in-process implementation
(bounded by TTL and a maximum number of keys, snapshot and restore). A Redis
implementation shares the same contract suite (``tests/stores/contract.py``).
"""

from rempart.stores.base import StateStore, Window
from rempart.stores.memory import MemoryStore

__all__ = ["MemoryStore", "StateStore", "Window"]
