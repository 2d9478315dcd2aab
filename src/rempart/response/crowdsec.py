"""Address bans as CrowdSec decisions, in the form a bouncer reads from the Local API stream.

A bouncer polls ``GET /v1/decisions/stream`` and gets a
``DecisionsStreamResponse`` (CrowdSec's ``pkg/models/localapi_swagger.yaml``)::

    {"new": [{"id": 3, "origin": "rempart", "type": "ban", "scope": "Ip",
              "value": "51.75.3.7", "duration": "3h59m58s",
              "until": "2022-03-01T13:00:00Z", "scenario": "rempart/password_guessing"}],
     "deleted": []}

One decision per ledger record: its id is the record's id, so a decision
keeps its id from one answer to the next. ``duration`` is Go's
``time.Duration`` text of the time left, in whole seconds (at least ``1s``);
a ban without an expiry gets ``open_ended``.

Three readers of the same decisions:

- `CrowdSecDecisions.stream`: the whole picture at a time, no memory of any
  reader: ``new`` holds the bans in force, ``deleted`` the bans lifted early
  that would otherwise still be in force.
- `CrowdSecExporter` writes that picture to a file on every ban and lift.
- `DecisionStream` answers each bouncer as CrowdSec's Local API does: its
  first poll (``startup=true``) gets every ban in force and nothing deleted;
  each later poll gets only what changed since that bouncer's previous
  poll, ``new`` the bans that started and ``deleted`` the bans lifted *or
  expired* since, so the bouncer removes an expired ban too. A bouncer is
  named by its key; the cursor of each is what it was last told.

>>> go_duration(14398), go_duration(3600), go_duration(59)
('3h59m58s', '1h0m0s', '59s')
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
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

__all__ = [
    "CrowdSecDecisions",
    "CrowdSecExporter",
    "DecisionStream",
    "StreamFilter",
    "go_duration",
]

_SCENARIO_UNSAFE: Final = re.compile(r"[^A-Za-z0-9_.-]")
_ORIGIN: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

CrowdSecDecision = dict[str, Any]
"""One CrowdSec decision, JSON-ready (the swagger's ``Decision``)."""
_Banned = tuple[str, str]  # (scope, value): what a bouncer blocks, whatever the decision's id


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


def _words(text: str | None) -> tuple[str, ...]:
    """A bouncer's comma-separated filter as lower-case words (none when absent or empty)."""
    if not text:
        return ()
    return tuple(word.strip().casefold() for word in text.split(",") if word.strip())


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """Which decisions a bouncer asks for, as the Local API reads its query parameters.

    ``scopes``: decision scopes (``ip``, ``range``), case-insensitive.
    ``origins``: origins, exact. ``scenarios_containing``: keep a decision
    whose scenario contains any of these words (case-insensitive);
    ``scenarios_not_containing``: drop one whose scenario contains any. An
    empty field filters nothing.

    >>> only_ranges = StreamFilter.from_query(scopes="range")
    >>> only_ranges.admits({"scope": "Ip", "origin": "rempart", "scenario": "rempart/x"})
    False
    """

    scopes: tuple[str, ...] = ()
    origins: tuple[str, ...] = ()
    scenarios_containing: tuple[str, ...] = ()
    scenarios_not_containing: tuple[str, ...] = ()

    @classmethod
    def from_query(
        cls,
        *,
        scopes: str | None = None,
        origins: str | None = None,
        scenarios_containing: str | None = None,
        scenarios_not_containing: str | None = None,
    ) -> StreamFilter:
        """The filter of a stream request's comma-separated query parameters."""
        return cls(
            scopes=_words(scopes),
            origins=tuple(word for word in (origins or "").split(",") if word),
            scenarios_containing=_words(scenarios_containing),
            scenarios_not_containing=_words(scenarios_not_containing),
        )

    def admits(self, decision: CrowdSecDecision) -> bool:
        """Whether ``decision`` passes every part of the filter."""
        scenario = str(decision["scenario"]).casefold()
        return (
            (not self.scopes or str(decision["scope"]).casefold() in self.scopes)
            and (not self.origins or decision["origin"] in self.origins)
            and (
                not self.scenarios_containing
                or any(word in scenario for word in self.scenarios_containing)
            )
            and not any(word in scenario for word in self.scenarios_not_containing)
        )


class CrowdSecDecisions:
    """The ledger's address bans as CrowdSec decisions.

    ``ledger``: where bans are read. ``origin``: the decisions' origin.
    ``open_ended``: the duration given to a ban without expiry (CrowdSec
    decisions always have one).
    """

    def __init__(
        self,
        ledger: ActionLedger,
        *,
        origin: str = "rempart",
        open_ended: timedelta = timedelta(days=365),
    ) -> None:
        if not _ORIGIN.fullmatch(origin):
            raise ConfigError("crowdsec.origin", "1 to 64 letters, digits or _.:-", origin)
        if open_ended <= timedelta(0):
            raise ConfigError("crowdsec.open_ended", "a positive duration", open_ended)
        self.ledger = ledger
        self.origin = origin
        self.open_ended = open_ended

    def until(self, record: ActionRecord, now: datetime) -> datetime:
        """When ``record``'s ban ends, as told to a bouncer (``open_ended`` from ``now``)."""
        return record.until if record.until is not None else now + self.open_ended

    def decision(self, record: ActionRecord, now: datetime) -> CrowdSecDecision | None:
        """``record`` as a JSON-ready CrowdSec decision at ``now`` (None: target is no address)."""
        try:
            network = record.network()
        except ValueError:
            return None
        single = network.prefixlen == network.max_prefixlen
        until = self.until(record, now)
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

    def decisions(self, records: Iterable[ActionRecord], now: datetime) -> list[CrowdSecDecision]:
        """The address bans among ``records`` as decisions at ``now``."""
        exported = (self.decision(r, now) for r in records if r.kind is ActionKind.BAN_ADDRESS)
        return [decision for decision in exported if decision is not None]

    def stream(self, now: datetime) -> dict[str, list[CrowdSecDecision]]:
        """The decision stream at ``now``: bans in force as ``new``, lifted ones as ``deleted``."""
        return {
            "new": self.decisions(self.ledger.active(now), now),
            "deleted": self.decisions(self.ledger.lifted(now), now),
        }


class CrowdSecExporter(CrowdSecDecisions):
    """Keeps a CrowdSec decision-stream file of the ledger's address bans.

    ``path``: the JSON file written, atomically, on every ban and lift.
    ``ledger``, ``origin``, ``open_ended``: as for `CrowdSecDecisions`.
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
        super().__init__(ledger, origin=origin, open_ended=open_ended)
        self.path = Path(path)
        self.name = name

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


class DecisionStream:
    """The Local API's decision stream, one cursor per bouncer.

    What a bouncer was last told is its cursor: per banned address or
    prefix, the decision it holds. A poll diffs the bans in force now
    against it, so a ban recorded late (at an event time before the last
    poll) is still sent, and a ban that expired between two polls is sent
    as deleted. Where several bans cover one address, the bouncer holds the
    longest (as the Local API sends it): a longer one arriving is ``new``
    again, and the address is ``deleted`` only when no ban covers it.

    A bouncer this object never answered (a first poll without
    ``startup=true``, or after a restart of Rempart) gets every ban in force
    and, as deleted, every ban lifted early that would still be in force:
    deleting what a bouncer does not hold is harmless, missing a lift is not.

    >>> from datetime import UTC, datetime, timedelta
    >>> from rempart.guard.decision import Action, Decision, Verdict
    >>> from rempart.response.ledger import MemoryLedger
    >>> t0 = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)
    >>> ledger = MemoryLedger()
    >>> stream = DecisionStream(CrowdSecDecisions(ledger))
    >>> ban = Action(kind=ActionKind.BAN_ADDRESS, target="51.75.3.7", until=t0 + timedelta(hours=1))
    >>> guessing = Decision(event_id="e1", verdict=Verdict.DENY, actions=(ban,), time=t0)
    >>> _ = ledger.record(guessing, "guard:login")
    >>> [d["value"] for d in stream.poll("fw1", t0, startup=True)["new"]]
    ['51.75.3.7']
    >>> stream.poll("fw1", t0 + timedelta(minutes=1))
    {'new': [], 'deleted': []}
    >>> [d["value"] for d in stream.poll("fw1", t0 + timedelta(hours=2))["deleted"]]
    ['51.75.3.7']
    """

    def __init__(self, decisions: CrowdSecDecisions) -> None:
        self.decisions = decisions
        self._told: dict[str, dict[_Banned, ActionRecord]] = {}
        self._lock = threading.Lock()

    def poll(
        self,
        bouncer: str,
        now: datetime,
        *,
        startup: bool = False,
        selection: StreamFilter | None = None,
    ) -> dict[str, list[CrowdSecDecision]]:
        """What ``bouncer`` must add and delete at ``now``; its cursor moves to ``now``.

        ``startup``: the bouncer starts afresh (every ban in force, nothing
        deleted). ``selection``: the bouncer's filters (all bans by default).
        """
        chosen = selection if selection is not None else StreamFilter()
        in_force = self._longest(self.decisions.ledger.active(now), now, chosen)
        with self._lock:
            told = None if startup else self._told.get(bouncer)
            if told is None:
                new = list(in_force.values())
                deleted = [] if startup else self._lifted_outside(in_force, now, chosen)
            else:
                new = [
                    record for key, record in in_force.items() if _id(told.get(key)) != record.id
                ]
                deleted = [record for key, record in told.items() if key not in in_force]
            self._told[bouncer] = in_force
        return {
            "new": self.decisions.decisions(sorted(new, key=_by_id), now),
            "deleted": self.decisions.decisions(sorted(deleted, key=_by_id), now),
        }

    def forget(self, bouncer: str) -> None:
        """Drop ``bouncer``'s cursor (its key was revoked); its next poll starts afresh."""
        with self._lock:
            self._told.pop(bouncer, None)

    def _admitted(
        self, records: Iterable[ActionRecord], now: datetime, selection: StreamFilter
    ) -> list[tuple[_Banned, ActionRecord]]:
        found = []
        for record in records:
            decision = self.decisions.decision(record, now)
            if (
                record.kind is ActionKind.BAN_ADDRESS
                and decision is not None
                and selection.admits(decision)
            ):
                found.append(((decision["scope"], decision["value"]), record))
        return found

    def _longest(
        self, records: Iterable[ActionRecord], now: datetime, selection: StreamFilter
    ) -> dict[_Banned, ActionRecord]:
        """The longest ban in force per address or prefix (the earliest of equal ones)."""
        longest: dict[_Banned, ActionRecord] = {}
        for key, record in self._admitted(records, now, selection):
            held = longest.get(key)
            if held is None or self.decisions.until(record, now) > self.decisions.until(held, now):
                longest[key] = record
        return longest

    def _lifted_outside(
        self, in_force: dict[_Banned, ActionRecord], now: datetime, selection: StreamFilter
    ) -> list[ActionRecord]:
        """Bans lifted early, one per address or prefix that no ban covers any more."""
        lifted: dict[_Banned, ActionRecord] = {}
        for key, record in self._admitted(self.decisions.ledger.lifted(now), now, selection):
            if key not in in_force:
                lifted.setdefault(key, record)
        return list(lifted.values())


def _by_id(record: ActionRecord) -> int:
    return record.id


def _id(record: ActionRecord | None) -> int | None:
    # A record's state may change (applied to failed) under the same id: the bouncer knows it.
    return record.id if record is not None else None
