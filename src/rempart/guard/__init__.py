"""The guard plane: ``Guard.decide(event) -> Decision`` with reasons, a TOML policy, knowledge.

The guard runs the detectors (`rempart.detectors`), which never import it;
the decision types and the policy are the core's (`rempart.decision`,
`rempart.policy`), re-exported here.
"""

from rempart.decision import Action, ActionKind, Decision, Reason, Verdict
from rempart.guard.guard import Guard
from rempart.guard.knowledge import Knowledge
from rempart.policy import Policy

__all__ = ["Action", "ActionKind", "Decision", "Guard", "Knowledge", "Policy", "Reason", "Verdict"]
