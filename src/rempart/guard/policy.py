"""The guard's policy, under the name the replay and evaluation planes import.

It is defined in `rempart.policy`, below the detectors that read their
sections of it; this module only re-exports it.
"""

from rempart.policy import Policy

__all__ = ["Policy"]
