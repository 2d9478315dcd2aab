"""Address bans as CrowdSec decisions, in the form a bouncer reads from the Local API stream.

The file holds one ``GET /v1/decisions/stream`` answer (the swagger
``DecisionsStreamResponse`` of CrowdSec's ``pkg/models/localapi_swagger.yaml``)::

    {"new": [{"id": 3, "origin": "rempart", "type": "ban", "scope": "Ip",
              "value": "51.75.3.7", "duration": "3h59m58s",
              "until": "2022-03-01T13:00:00Z", "scenario": "rempart/password_guessing"}],
     "deleted": []}

``new`` lists the bans in force, one decision per ledger record (its id is
the record's id, so a decision keeps its id from one export to the next);
``deleted`` lists bans lifted before their expiry, so a bouncer drops them
rather than waiting for them to run out. ``duration`` is Go's
``time.Duration`` text of the time left, in whole seconds; a ban without an
expiry is exported with ``open_ended``. The file is rewritten atomically on
every ban and lift.

>>> go_duration(14398), go_duration(3600), go_duration(59)
('3h59m58s', '1h0m0s', '59s')
"""

from __future__ import annotations

import math
import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Final

import msgspec

from rempart.errors import ConfigError
from rempart.guard.decision import ActionKind
from rempart.ingestion.atomic import atomic_output
from rempart.response.enforcers import EnforcementError
from rempart.response.ledger import ActionLedger
from rempart.response.record import ActionRecord

__all__ = ["CrowdSecExporter", "go_duration"]

_SCENARIO_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.-]")
_ORIGIN: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def go_duration(seconds: int) -> str:
    """Whole ``seconds`` as Go's ``time.Duration.String()`` writes them (``1h0m0s``)."""
    if seconds < 0:
        return "-" + go_duration(-seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


class CrowdSecExporter:
    """Keeps a CrowdSec decision-stream file of the ledger's address bans.

    ``path``: the JSON file written. ``ledger``: where bans are read.
    ``origin``: the decisions' origin. ``open_ended``: the duration given to
    a ban without expiry (CrowdSec decisions always have one).
    """

    kinds: Final = frozenset({ActionKind.BAN_ADDRESS})

    def __init__(
        self,
        path: str | os.PathLike[str],
        ledger: ActionLedger,
        *,
        origin: str = "rempart",
        open_ended: timedelta = timedelta(days=365),
        name: str = "crowdsec",
    ) -> None:
        if not _ORIGIN.fullmatch(origin):
            raise ConfigError("crowdsec.origin", "1 to 64 letters, digits or _.:-", origin)
        if open_ended <= timedelta(0):
            raise ConfigError("crowdsec.open_ended", "a positive duration", open_ended)
        self.path = Path(path)
        self.ledger = ledger
        self.origin = origin
        self.open_ended = open_ended
        self.name = name

    def decision(self, record: ActionRecord, now: datetime) -> dict[str, Any] | None:
        """``record`` as a JSON-ready CrowdSec decision at ``now`` (None: target is no address)."""
        try:
            network = record.network()
        except ValueError:
            return None
        single = network.prefixlen == network.max_prefixlen
        until = record.until if record.until is not None else now + self.open_ended
        seconds = max(1, math.ceil((until - now).total_seconds()))
        reason = _SCENARIO_UNSAFE.sub("-", record.reasons[0]) if record.reasons else "manual"
        return {
            "id": record.id,
            "origin": self.origin,
            "type": "ban",
            "scope": "Ip" if single else "Range",
            "value": str(network.network_address) if single else str(network),
            "duration": go_duration(seconds),
            "until": until.isoformat().replace("+00:00", "Z"),
            "scenario": f"rempart/{reason}",
        }

    def stream(self, now: datetime) -> dict[str, list[dict[str, Any]]]:
        """The decision stream at ``now``: bans in force as ``new``, lifted ones as ``deleted``."""

        def decisions(records: list[ActionRecord]) -> list[dict[str, Any]]:
            exported = (self.decision(r, now) for r in records if r.kind is ActionKind.BAN_ADDRESS)
            return [decision for decision in exported if decision is not None]

        return {
            "new": decisions(self.ledger.active(now)),
            "deleted": decisions(self.ledger.lifted(now)),
        }

    def write(self, now: datetime) -> Path:
        """Write the stream for ``now`` atomically; return its path."""
        body = msgspec.json.format(msgspec.json.encode(self.stream(now)), indent=2)
        with atomic_output(self.path) as output:
            output.write(body + b"\n")
        return self.path

    def apply(self, record: ActionRecord) -> None:
        """Rewrite the file at the ban's time; a target that is no address fails."""
        try:
            record.network()
        except ValueError:
            raise EnforcementError("target: not an IPv4/IPv6 address or prefix") from None
        self.write(record.time)

    def lift(self, record: ActionRecord) -> None:
        """Rewrite the file at the lift's time (the lifted bans move to ``deleted``)."""
        self.write(record.time)
