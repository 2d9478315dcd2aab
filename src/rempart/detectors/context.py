"""Per-event facts computed once by the guard and shared by every detector.

Building the context is where the guard pays for look-ups (directory, network
table, local time, evidence): detectors then read plain attributes, so no
work is done twice on the per-event path. The context is the detectors'
input, so it lives with them; the guard, one layer up, builds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from rempart.directory import Account, Site
from rempart.events import Event, EventKind, Outcome
from rempart.networks import UNKNOWN_COUNTRY, NetworkRange

__all__ = ["EventContext", "local_minute", "network_key"]

_DAY = 86_400.0


@dataclass(slots=True)
class EventContext:
    """What the guard knows about one event before the detectors score it."""

    event: Event
    t: float
    account: Account | None
    site: Site | None
    network: NetworkRange | None
    prefix: str
    is_read: bool
    explained: bool
    unexplained_results: tuple[str, ...] = ()
    """For a search, the people it listed whom nothing explains (no care evidence at the
    account or its site, not seen by the account), each once: their identity left too."""
    session: str = ""
    """The account's session as one value (`rempart.stores.keys.session_identity`): its
    session id, or its address and browser when the portal gives none."""
    vouched_since: float | None = None
    """When this session last passed step-up (within the grace period), else None."""
    stranger: bool = False
    """Whether a detector found this event's session to be someone else's device (or an
    account hopping across new networks) not yet vouched for (`Finding.stranger`)."""
    broad_asn: bool = False
    """Whether the address's AS is too broad to tell one network from another."""
    login_warnings: list[str] = field(default_factory=list)
    """On a successful login, what came before it that a thief does and an owner rarely does
    (failed logins on the account in the last day, an address that failed on other accounts
    this hour, a portal-wide stuffing wave), as short phrases: the guard gathers them from the
    findings (`Finding.warnings`) for the detectors' learning."""
    weekday: int = -1
    minute: int = -1
    site_open: bool = True
    tighten: float = 1.0
    tighten_reasons: list[str] = field(default_factory=list)

    @property
    def kind(self) -> EventKind:
        """The event's kind."""
        return self.event.kind

    @property
    def asn(self) -> int:
        """The address's autonomous system, 0 when the table does not know it."""
        return self.network.asn if self.network else 0

    @property
    def identity_asn(self) -> int:
        """The AS as a sign of which network this is: 0 when unknown, or when the AS is a
        national carrier's or a large cloud's (`NetworkTable.is_broad`), shared by millions."""
        return 0 if self.broad_asn else self.asn

    @property
    def network_kind(self) -> str:
        """``fixed``, ``mobile``, ``hosting``, ``vpn``, ``proxy``, ``tor`` or ``unknown``."""
        return self.network.kind.value if self.network else "unknown"

    @property
    def country(self) -> str:
        """The address's country, ``??`` when unknown."""
        return self.network.country if self.network else UNKNOWN_COUNTRY

    @property
    def operator(self) -> str:
        """The address's operator, ``unknown`` when the table does not know it."""
        return (self.network.operator or "unknown") if self.network else "unknown"

    @property
    def typed_lookup(self) -> bool:
        """A record view by typed NIR, whatever its outcome."""
        return (
            self.event.kind is EventKind.RECORD_VIEW
            and self.event.lookup is not None
            and (self.event.lookup.value == "typed_nir")
        )

    @property
    def not_found(self) -> bool:
        """A look-up that returned nobody's data."""
        return self.event.kind is EventKind.RECORD_VIEW and self.event.outcome is Outcome.NOT_FOUND

    @property
    def unexplained(self) -> int:
        """People whose identity this event hands out with nothing to explain it: one for an
        unexplained read, each unexplained person a search listed, else none."""
        if self.is_read:
            return 0 if self.explained else 1
        return len(self.unexplained_results)

    def tighten_by(self, factor: float, why: str) -> None:
        """Multiply the account's budget by ``factor`` for this event, saying why."""
        self.tighten *= factor
        self.tighten_reasons.append(why)


def network_key(ip: str) -> str:
    """The address's /24 (IPv4) or /48 (IPv6): one site's line, one server rack."""
    if ":" in ip:
        return ":".join(ip.split(":")[:3]) + "::/48"
    return ip.rsplit(".", 1)[0] + ".0/24"


@lru_cache(maxsize=4_096)
def _offset(timezone: str, utc_day: int) -> float:
    noon = datetime(1970, 1, 1, 12, tzinfo=UTC) + timedelta(days=utc_day)
    offset = noon.astimezone(ZoneInfo(timezone)).utcoffset()
    return offset.total_seconds() if offset else 0.0


def local_minute(t: float, timezone: str) -> tuple[int, int]:
    """Weekday (0 = Monday) and minute after local midnight at event time ``t``."""
    local = t + _offset(timezone, int(t // _DAY))
    days = int(local // _DAY)
    return (days + 3) % 7, int(local % _DAY // 60)  # 1970-01-01 was a Thursday
