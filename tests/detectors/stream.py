"""A fixed, seeded stream of varied portal events over a small directory, for detector tests.

Seven days of work at four sites (logins, typos, explained and unexplained
reads, not-found look-ups, searches, logouts), with attacks woven in:
credential stuffing from a rented server, a takeover after a password reset
reading at a robot's pace and hitting a canary, a stolen session cookie, a
session moving mid-way, one hosting operator serving accounts of several
sites, reads at night, and a day of heavy reading. Everything is derived
from the seed; nothing reads a clock.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from typing import Any

from rempart.detectors.context import EventContext
from rempart.directory import Account, OpeningInterval, Profession, Site, SiteKind
from rempart.events import DataCategory, Event, EventKind, Lookup, Outcome
from rempart.evidence import CareEvidence, EvidenceKind
from rempart.guard.guard import Guard
from rempart.guard.knowledge import Knowledge
from rempart.stores.memory import MemoryStore
from rempart.testbed.geography import network_table
from rempart.testing import make_event, pseudonym_for

__all__ = [
    "ACCOUNTS",
    "CANARY",
    "SITES",
    "START",
    "Stream",
    "build_stream",
    "copy_context",
    "knowledge",
]

START = datetime(2022, 3, 7, 7, 0, tzinfo=UTC)
"""A Monday, 08:00 in Paris."""

_HOURS = tuple(OpeningInterval(weekday=day, opens=480, closes=1200) for day in range(6))


def _site(site: str, kind: SiteKind, department: str, commune: str) -> Site:
    return Site(
        site=site,
        kind=kind,
        department=department,
        commune=commune,
        timezone="Europe/Paris",
        hours=_HOURS,
    )


SITES = {
    site.site: site
    for site in (
        _site("S1", SiteKind.PHARMACY, "75", "75056"),
        _site("S2", SiteKind.PHARMACY, "69", "69123"),
        _site("S3", SiteKind.PHARMACY, "13", "13055"),
        _site("S4", SiteKind.GP_PRACTICE, "59", "59350"),
    )
}
ACCOUNTS = {
    account.account: account
    for account in (
        Account(account="A1", profession=Profession.PHARMACIST, site="S1"),
        Account(account="A2", profession=Profession.PHARMACIST, site="S1", shared=True),
        Account(account="A3", profession=Profession.PHARMACIST, site="S2"),
        Account(account="A4", profession=Profession.PHARMACIST, site="S3"),
        Account(account="A5", profession=Profession.PHARMACIST, site="S3"),
        Account(account="A6", profession=Profession.GP, site="S4"),
        Account(account="A7", profession=Profession.BILLING, site="S4"),
    )
}
# Each site's own fixed line (Orange, Free, SFR, Bouygues Telecom in the network table).
HOME = {"S1": "90.12.34.56", "S2": "78.192.10.20", "S3": "109.0.55.66", "S4": "176.130.1.2"}
MOBILE = "37.160.1.2"  # Free Mobile
FOREIGN = "83.40.1.1"  # Telefonica de Espana, ES
VPN = "146.70.1.2"  # M247, GB
OVH = ("51.75.3.4", "51.75.200.9", "54.36.7.8")  # OVH, hosting
SCALEWAY = "51.15.9.10"  # Scaleway, hosting
DEPARTMENTS = ("75", "92", "69", "13", "59", "33", "29", "2A")
CANARY = pseudonym_for(999_999)
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
ROBOT = "python-requests/2.27.1"


def knowledge() -> Knowledge:
    """The stream's directory, its canary and the testbed's network table."""
    return Knowledge(
        accounts=dict(ACCOUNTS),
        sites=dict(SITES),
        canaries=frozenset({CANARY}),
        networks=network_table(),
    )


@dataclasses.dataclass(frozen=True)
class Stream:
    """Events in time order, the care evidence that precedes them, and their contexts."""

    events: tuple[Event, ...]
    evidence: tuple[CareEvidence, ...]
    contexts: tuple[EventContext, ...]


class _Builder:
    def __init__(self, seed: int, offset: timedelta) -> None:
        self.rng = random.Random(seed)
        self.offset = offset
        self.rows: list[tuple[datetime, dict[str, Any]]] = []
        self.evidence: list[CareEvidence] = []
        self.next_subject = 1 + seed * 100_000
        # Patients each site has care evidence for (card reads before the stream starts).
        self.patients: dict[str, list[str]] = {}
        for site in SITES:
            pool = [self.subject() for _ in range(40)]
            self.patients[site] = pool
            for number, subject in enumerate(pool):
                self.evidence.append(
                    CareEvidence(
                        time=START + offset - timedelta(days=1, minutes=number),
                        kind=EvidenceKind.CARD_READ,
                        subject=subject,
                        site=site,
                    )
                )

    def subject(self) -> str:
        self.next_subject += 1
        return pseudonym_for(self.next_subject)

    def add(self, when: datetime, **fields: Any) -> None:
        self.rows.append((when + self.offset, fields))

    def read(
        self,
        when: datetime,
        account: str,
        session: str,
        ip: str,
        *,
        explained: bool,
        user_agent: str = BROWSER,
        subject: str | None = None,
    ) -> None:
        rng = self.rng
        site = ACCOUNTS[account].site
        if explained:
            self.add(
                when,
                kind=EventKind.RECORD_VIEW,
                account=account,
                session=session,
                ip=ip,
                user_agent=user_agent,
                subject=rng.choice(self.patients[site]),
                lookup=Lookup.CARD,
                categories=(DataCategory.IDENTITY, DataCategory.RIGHTS),
                subject_department=SITES[site].department,
            )
            return
        self.add(
            when,
            kind=EventKind.RECORD_VIEW,
            account=account,
            session=session,
            ip=ip,
            user_agent=user_agent,
            subject=subject or self.subject(),
            lookup=Lookup.TYPED_NIR,
            categories=(DataCategory.IDENTITY, DataCategory.BIRTH_DATE, DataCategory.RIGHTS),
            subject_department=rng.choice(DEPARTMENTS),
            birth_date_match=rng.random() > 0.1,
        )

    def not_found(self, when: datetime, account: str, session: str, ip: str, ua: str) -> None:
        self.add(
            when,
            kind=EventKind.RECORD_VIEW,
            account=account,
            session=session,
            ip=ip,
            user_agent=ua,
            subject=None,
            categories=(),
            lookup=Lookup.TYPED_NIR,
            outcome=Outcome.NOT_FOUND,
        )

    def working_day(self, day: int) -> None:
        rng = self.rng
        for account, record in ACCOUNTS.items():
            if rng.random() < 0.1:
                continue
            when = START + timedelta(days=day, seconds=rng.uniform(0, 8 * 3_600))
            session = f"s{day}{account}{rng.randrange(10**6):06d}"
            roll = rng.random()
            ip = HOME[record.site] if roll < 0.85 else MOBILE if roll < 0.95 else FOREIGN
            if rng.random() < 0.2:
                self.add(when, kind=EventKind.LOGIN_FAILURE, account=account, ip=ip, session=None)
                when += timedelta(seconds=rng.uniform(5, 30))
            self.add(when, kind=EventKind.LOGIN_SUCCESS, account=account, ip=ip, session=session)
            for _ in range(rng.randint(3, 9)):
                when += timedelta(seconds=rng.uniform(30, 900))
                roll = rng.random()
                if roll < 0.6:
                    self.read(when, account, session, ip, explained=True)
                elif roll < 0.85:
                    self.read(when, account, session, ip, explained=False)
                elif roll < 0.93:
                    self.not_found(when, account, session, ip, BROWSER)
                else:
                    self.add(
                        when,
                        kind=EventKind.SEARCH,
                        account=account,
                        session=session,
                        ip=ip,
                        lookup=Lookup.SEARCH,
                        result_count=rng.randint(0, 12),
                    )
            self.add(
                when + timedelta(seconds=60),
                kind=EventKind.LOGOUT,
                account=account,
                ip=ip,
                session=session,
            )

    def attacks(self) -> None:
        rng = self.rng
        # Day 2: credential stuffing from a rented server, then a login that works.
        when = START + timedelta(days=2, hours=1)
        for attempt in range(25):
            account = ("A3", "A4", "A5", "A6", "A7")[attempt % 5]
            self.add(
                when + timedelta(seconds=15 * attempt),
                kind=EventKind.LOGIN_FAILURE,
                account=account,
                ip=SCALEWAY,
                user_agent=ROBOT,
                session=None,
            )
        self.add(
            when + timedelta(seconds=400),
            kind=EventKind.LOGIN_SUCCESS,
            account="A1",
            ip=SCALEWAY,
            session="stuffed",
            user_agent=ROBOT,
        )
        # Day 3: a password reset, then a robot reads from a rented server and hits a canary.
        when = START + timedelta(days=3, hours=2)
        self.add(when, kind=EventKind.PASSWORD_RESET, account="A6", ip=OVH[2], session=None)
        when += timedelta(minutes=5)
        self.add(when, kind=EventKind.LOGIN_SUCCESS, account="A6", ip=OVH[2], session="robot")
        for number in range(45):
            when += timedelta(seconds=rng.uniform(1.0, 3.0))
            if number % 4 == 3:
                self.not_found(when, "A6", "robot", OVH[2], ROBOT)
            else:
                self.read(when, "A6", "robot", OVH[2], explained=False, user_agent=ROBOT)
        self.read(
            when + timedelta(seconds=2),
            "A6",
            "robot",
            OVH[2],
            explained=False,
            user_agent=ROBOT,
            subject=CANARY,
        )
        # Day 3: a stolen session cookie (no login) and a session moving to a VPN.
        when = START + timedelta(days=3, hours=5)
        self.read(when, "A2", "cookie", VPN, explained=False)
        self.add(when, kind=EventKind.LOGIN_SUCCESS, account="A6", ip=HOME["S4"], session="moves")
        self.read(when + timedelta(minutes=3), "A6", "moves", HOME["S4"], explained=True)
        self.read(when + timedelta(minutes=9), "A6", "moves", VPN, explained=False)
        # Day 3: an account reading in another account's session.
        self.read(when + timedelta(minutes=12), "A7", "moves", HOME["S4"], explained=False)
        # Day 5: one hosting operator serves accounts of three sites.
        when = START + timedelta(days=5, hours=3)
        for index, account in enumerate(("A3", "A5", "A6")):
            ip = OVH[index % 2]
            session = f"infra{account}"
            start = when + timedelta(minutes=20 * index)
            self.add(start, kind=EventKind.LOGIN_SUCCESS, account=account, ip=ip, session=session)
            for read in range(6):
                self.read(
                    start + timedelta(minutes=2 * read + 1),
                    account,
                    session,
                    ip,
                    explained=False,
                )
        # Day 5, 23:30 in Paris: a read while the pharmacy is closed.
        when = START + timedelta(days=5, hours=14, minutes=30)
        self.add(when, kind=EventKind.LOGIN_SUCCESS, account="A2", ip=HOME["S1"], session="night")
        for read in range(4):
            self.read(
                when + timedelta(minutes=3 * read + 1),
                "A2",
                "night",
                HOME["S1"],
                explained=read % 2 == 0,
            )
        # Day 6: a heavy day of reading on A1, at a human pace.
        when = START + timedelta(days=6, hours=1)
        self.add(when, kind=EventKind.LOGIN_SUCCESS, account="A1", ip=HOME["S1"], session="heavy")
        for _ in range(70):
            when += timedelta(seconds=rng.uniform(20, 60))
            self.read(when, "A1", "heavy", HOME["S1"], explained=rng.random() < 0.5)

    def build(self) -> list[Event]:
        self.rows.sort(key=lambda row: row[0])
        return [
            make_event(time=when, event_id=f"ev{self.offset.days:03d}{number:06d}", **fields)
            for number, (when, fields) in enumerate(self.rows)
        ]


def build_stream(seed: int = 1, days: int = 7, offset: timedelta = timedelta(0)) -> Stream:
    """The stream for ``seed``, shifted by ``offset``, with contexts built by a `Guard`."""
    builder = _Builder(seed, offset)
    for day in range(days):
        builder.working_day(day)
    builder.attacks()
    events = builder.build()
    evidence = tuple(sorted(builder.evidence, key=lambda item: item.time))
    guard = Guard(knowledge(), MemoryStore(), detectors=[])
    for item in evidence:
        guard.observe(item)
    contexts = tuple(guard.context(event) for event in events)
    return Stream(events=tuple(events), evidence=evidence, contexts=contexts)


def copy_context(context: EventContext) -> EventContext:
    """A fresh copy of ``context``, so that no run sees another run's tightening."""
    return dataclasses.replace(context, tighten_reasons=list(context.tighten_reasons))
