"""Shared records for the ingestion tests: every kind, every optional field, tricky text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rempart.directory import Account, OpeningInterval, Profession, Site, SiteKind
from rempart.events import DataCategory, Event, EventKind, Lookup, Outcome
from rempart.evidence import CareEvidence, EvidenceKind
from rempart.testing import make_event, pseudonym_for

START = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)
CLEAR_NIR = "253072B07300470"  # valid check key (rempart.nir's doctest)


def sample_events() -> list[Event]:
    """A few events exercising every kind and every optional field."""
    events = [
        make_event(kind=kind, event_id=f"ev{i:09d}", time=START + timedelta(seconds=i))
        for i, kind in enumerate(EventKind)
        if kind is not EventKind.SEARCH
    ]
    events += [
        make_event(
            kind="search",
            event_id="ev100000001",
            lookup=Lookup.SEARCH,
            result_count=0,
            ip="2001:db8::1",
            user_agent='curl/8.0 "quoted" ünïcode \\ backslash',
        ),
        make_event(
            event_id="ev100000002",
            time=START + timedelta(microseconds=123_456),
            subject=pseudonym_for(42),
            categories=tuple(DataCategory),
            subject_department="2A",
            birth_date_match=False,
            lookup=Lookup.CARD,
        ),
        make_event(
            event_id="ev100000003",
            outcome=Outcome.NOT_FOUND,
            subject=None,
            categories=(),
            birth_date_match=True,
            session=None,
            user_agent="",
        ),
        make_event(
            kind="search",
            event_id="ev100000004",
            time=START + timedelta(seconds=30),
            lookup=Lookup.SEARCH,
            result_count=57,
            results=(pseudonym_for(7), pseudonym_for(8), pseudonym_for(9)),
        ),
    ]
    return events


def sample_evidence() -> list[CareEvidence]:
    """Evidence tied to an account, to a site, and to both; a standing relationship, open
    and ended."""
    return [
        CareEvidence(time=START, kind=EvidenceKind.CARD_READ, subject=pseudonym_for(1), site="S1"),
        CareEvidence(
            time=START + timedelta(hours=1),
            kind=EvidenceKind.PRESCRIPTION,
            subject=pseudonym_for(2),
            account="A00001",
        ),
        CareEvidence(
            time=START + timedelta(days=1),
            kind=EvidenceKind.CLAIM,
            subject=pseudonym_for(3),
            account="A00002",
            site="S2",
        ),
        CareEvidence(
            time=START - timedelta(days=3_000),
            kind=EvidenceKind.TREATING_DOCTOR,
            subject=pseudonym_for(4),
            account="A00001",
        ),
        CareEvidence(
            time=START + timedelta(days=2),
            kind=EvidenceKind.TREATING_DOCTOR,
            subject=pseudonym_for(4),
            account="A00001",
            ended=START + timedelta(days=2),
        ),
    ]


def sample_sites() -> list[Site]:
    """A day pharmacy and a night-duty one."""
    hours = tuple(OpeningInterval(weekday=d, opens=510, closes=1170) for d in range(6))
    return [
        Site(
            site="S1",
            kind=SiteKind.PHARMACY,
            department="75",
            commune="75056",
            timezone="Europe/Paris",
            hours=hours,
        ),
        Site(
            site="S2",
            kind=SiteKind.PHARMACY,
            department="2B",
            commune="2B033",
            timezone="Europe/Paris",
            hours=(OpeningInterval(weekday=6, opens=1200, closes=1920),),
            night_duty=True,
            opened=date(2001, 5, 2),
        ),
    ]


def sample_accounts() -> list[Account]:
    """A personal account and a shared counter account."""
    return [
        Account(account="A00001", profession=Profession.PHARMACIST, site="S1"),
        Account(
            account="A00002",
            profession=Profession.BILLING,
            site="S2",
            shared=True,
            created=date(2020, 1, 6),
        ),
    ]


@pytest.fixture
def events() -> list[Event]:
    """Sample events (see `sample_events`)."""
    return sample_events()


@pytest.fixture
def evidence() -> list[CareEvidence]:
    """Sample care evidence (see `sample_evidence`)."""
    return sample_evidence()
