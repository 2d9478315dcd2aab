"""The guard plane: ``Guard.decide(event) -> Decision`` with reasons, a TOML policy, knowledge.

`Guard` is imported lazily: detectors import the guard's context and
decision types, and the guard imports the detectors.
"""

from typing import TYPE_CHECKING, Any

from rempart.guard.decision import Action, ActionKind, Decision, Reason, Verdict
from rempart.guard.knowledge import Knowledge
from rempart.guard.policy import Policy

if TYPE_CHECKING:
    from rempart.guard.guard import Guard

__all__ = ["Action", "ActionKind", "Decision", "Guard", "Knowledge", "Policy", "Reason", "Verdict"]


def __getattr__(name: str) -> Any:
    if name == "Guard":
        from rempart.guard.guard import Guard

        return Guard
    raise AttributeError(name)
