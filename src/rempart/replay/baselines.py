"""Baselines every report shows beside Rempart, so that a number always has a comparison.

- `NoDefence`: the portal as it was in 2022.
- `AddressLeakyBucket`: a per-address leaky bucket modelled on CrowdSec's
  ``crowdsecurity/http-crawl-non_statics`` scenario (capacity 40, one token
  leaking every 0.5 s, distinct on the request path *without its query
  string*, ban 4 h). Every patient look-up is ``GET /patient?nir=…``: one
  distinct path, so the bucket never overflows, as the design notes.
- `AccountRateLimit`: a per-account rate limit on reads (100 an hour),
  refusing reads beyond it, with no step-up.
"""

from __future__ import annotations

from typing import Protocol

from rempart.events import Event, EventKind
from rempart.evidence import CareEvidence
from rempart.guard.decision import Action, ActionKind, Decision, Reason, Verdict
from rempart.stores.base import Window
from rempart.stores.memory import MemoryStore

__all__ = ["AccountRateLimit", "AddressLeakyBucket", "Defence", "NoDefence"]


class Defence(Protocol):
    """What evaluation drives: Rempart's `Guard` or a baseline."""

    def decide(self, event: Event) -> Decision:
        """Verdict for one event."""
        ...

    def step_up(self, event: Event, passed: bool) -> Decision:
        """Outcome of a challenge."""
        ...

    def observe(self, evidence: CareEvidence) -> None:
        """A piece of care evidence."""
        ...


class NoDefence:
    """Allows everything."""

    name = "no-defence"

    def decide(self, event: Event) -> Decision:
        return Decision(event_id=event.event_id, verdict=Verdict.ALLOW, time=event.time)

    def step_up(self, event: Event, passed: bool) -> Decision:
        return self.decide(event)

    def observe(self, evidence: CareEvidence) -> None:
        return None


def _path(event: Event) -> str:
    """The request path a web server would log, query string stripped (as CrowdSec does)."""
    if event.kind is EventKind.RECORD_VIEW:
        return "/patient"
    if event.kind is EventKind.SEARCH:
        return "/patients/search"
    return f"/{event.kind.value}"


class AddressLeakyBucket:
    """CrowdSec's crawl scenario: per address, distinct paths, capacity 40, leak 0.5 s."""

    name = "crowdsec-crawl"

    def __init__(self, capacity: int = 40, leak_s: float = 0.5, ban_s: float = 4 * 3_600) -> None:
        self.capacity = capacity
        self.leak_s = leak_s
        self.ban_s = ban_s
        # address -> (level, last time, distinct paths in the bucket)
        self._buckets: dict[str, tuple[float, float, frozenset[str]]] = {}
        self._banned: dict[str, float] = {}

    def decide(self, event: Event) -> Decision:
        now = event.time.timestamp()
        until = self._banned.get(event.ip)
        if until is not None and until > now:
            return Decision(event_id=event.event_id, verdict=Verdict.DENY, time=event.time)
        level, last, paths = self._buckets.get(event.ip, (0.0, now, frozenset()))
        level = max(0.0, level - (now - last) / self.leak_s)
        if level == 0.0:
            paths = frozenset()
        path = _path(event)
        if path not in paths:  # distinct: a path already in the bucket adds nothing
            paths = paths | {path}
            level += 1
        self._buckets[event.ip] = (level, now, paths)
        if level > self.capacity:
            self._banned[event.ip] = now + self.ban_s
            return Decision(
                event_id=event.event_id,
                verdict=Verdict.DENY,
                actions=(Action(kind=ActionKind.BAN_ADDRESS, target=event.ip),),
                reasons=(Reason(detector=self.name, code="crawl", message="bucket overflow"),),
                time=event.time,
            )
        return Decision(event_id=event.event_id, verdict=Verdict.ALLOW, time=event.time)

    def step_up(self, event: Event, passed: bool) -> Decision:
        return self.decide(event)

    def observe(self, evidence: CareEvidence) -> None:
        return None


class AccountRateLimit:
    """Refuses an account's reads beyond ``limit`` per hour (no step-up, no lock)."""

    name = "account-rate-limit"

    def __init__(self, limit: int = 100) -> None:
        self.limit = limit
        self._store = MemoryStore()
        self._window = (Window(3_600, 60),)

    def decide(self, event: Event) -> Decision:
        if event.kind is not EventKind.RECORD_VIEW or event.account is None:
            return Decision(event_id=event.event_id, verdict=Verdict.ALLOW, time=event.time)
        now = event.time.timestamp()
        (count,) = self._store.counts(f"r:{event.account}", now, self._window)
        if count >= self.limit:
            return Decision(
                event_id=event.event_id,
                verdict=Verdict.DENY,
                reasons=(
                    Reason(
                        detector=self.name,
                        code="rate",
                        message=f"{int(count)} reads in the last hour; limit {self.limit}",
                        figures={"reads_hour": count, "limit": float(self.limit)},
                    ),
                ),
                time=event.time,
            )
        self._store.add_counts(f"r:{event.account}", now, self._window)
        return Decision(event_id=event.event_id, verdict=Verdict.ALLOW, time=event.time)

    def step_up(self, event: Event, passed: bool) -> Decision:
        return self.decide(event)

    def observe(self, evidence: CareEvidence) -> None:
        return None
