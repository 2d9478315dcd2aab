"""The guard's answer types, under the name the response, service and replay planes import.

They are defined in `rempart.decision`, below the detectors that word their
findings with them; this module only re-exports them.
"""

from rempart.decision import Action, ActionKind, Decision, Reason, Verdict

__all__ = ["Action", "ActionKind", "Decision", "Reason", "Verdict"]
