"""Ground-truth labels: which events are legitimate and which belong to an attack.

Labels live only in the testbed's ``truth.parquet`` (one `Truth` per event,
joined on ``event_id``), never in the stream the guard sees. Evaluation reads
them to count exposure, containment and friction.

>>> Truth(event_id="ev000000001", label="incident-2022", attacker="incident-2022:03").is_attack
True
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec

from rempart.events import Identifier

__all__ = ["LEGITIMATE", "Truth"]

LEGITIMATE: Final = "legitimate"


class Truth(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """The label of one event: ``legitimate`` or the scenario's name, with its attacker id.

    ``hard_case`` tags legitimate events that look like attacks (``locum``,
    ``vaccination``…).
    """

    event_id: Identifier
    label: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    attacker: Identifier | None = None
    hard_case: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None

    def __post_init__(self) -> None:
        if (self.attacker is None) != (self.label == LEGITIMATE):
            raise ValueError("attacker: required for an attack label, forbidden for legitimate")
        if self.hard_case is not None and self.label != LEGITIMATE:
            raise ValueError("hard_case: only legitimate events carry a hard case")

    @property
    def is_attack(self) -> bool:
        """Whether the event belongs to an attack scenario."""
        return self.label != LEGITIMATE

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (defaults omitted)."""
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result
