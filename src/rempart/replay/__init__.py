"""Replay and evaluation: the very same guard over stored events, at full speed.

`replay` turns any event file (and its evidence) into one decision per event;
`evaluate` replays a simulated directory with its ground truth, simulates the
step-up outcomes (the owner passes; a thief fails, or never answers), and reports exposure,
detection, containment and friction for Rempart and three baselines.
"""

from rempart.replay.baselines import AccountRateLimit, AddressLeakyBucket, Defence, NoDefence
from rempart.replay.evaluation import Report, Thief, evaluate
from rempart.replay.replay import replay

__all__ = [
    "AccountRateLimit",
    "AddressLeakyBucket",
    "Defence",
    "NoDefence",
    "Report",
    "Thief",
    "evaluate",
    "replay",
]
