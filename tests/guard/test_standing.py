"""Standing care relationships (a treating doctor, a pharmacy's regulars): held until ended,
apart from dated evidence and its 400 days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from rempart.directory import Account, OpeningInterval, Profession, Site, SiteKind
from rempart.evidence import CareEvidence, EvidenceKind
from rempart.guard import Guard, Knowledge, Verdict
from rempart.stores import MemoryStore, RedisStore
from rempart.stores.base import StateStore
from rempart.stores.keys import GuardKeys
from rempart.testing import make_event, pseudonym_for

T0 = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
PATIENT = pseudonym_for(4_242)
GP, PHARMACIST = "G1", "P1"


def knowledge() -> Knowledge:
    """A GP at a practice and a pharmacist at a pharmacy."""
    hours = tuple(OpeningInterval(weekday=day, opens=420, closes=1320) for day in range(7))
    sites = {
        name: Site(
            site=name,
            kind=kind,
            department="35",
            commune="35238",
            timezone="Europe/Paris",
            hours=hours,
        )
        for name, kind in (("S1", SiteKind.GP_PRACTICE), ("S2", SiteKind.PHARMACY))
    }
    accounts = {
        GP: Account(account=GP, profession=Profession.GP, site="S1"),
        PHARMACIST: Account(account=PHARMACIST, profession=Profession.PHARMACIST, site="S2"),
    }
    return Knowledge(accounts=accounts, sites=sites)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.service)])
def guard(request: pytest.FixtureRequest) -> Guard:
    """A new guard on a memory store, then on a Redis store under the test's own prefix."""
    store: StateStore
    if request.param == "redis":
        client: redis.Redis = request.getfixturevalue("redis_client")
        store = RedisStore(client, prefix=request.getfixturevalue("redis_prefix"))
    else:
        store = MemoryStore()
    return Guard(knowledge(), store)


def declare(
    guard: Guard, when: datetime, kind: EvidenceKind = EvidenceKind.TREATING_DOCTOR, **fields: Any
) -> None:
    """Observe evidence of ``kind`` for the patient at ``when`` (the GP's unless told)."""
    if "site" not in fields:
        fields.setdefault("account", GP)
    guard.observe(CareEvidence(time=when, kind=kind, subject=PATIENT, **fields))


def explained(guard: Guard, when: datetime, account: str = GP) -> bool:
    """Whether a read of the patient by ``account`` at ``when`` counts as explained."""
    event = make_event(time=when, account=account, subject=PATIENT)
    return guard.context(event).explained


def test_a_declaration_3000_days_old_still_explains_a_read(guard: Guard) -> None:
    """A treating-doctor declaration older than any TTL explains its doctor's read, for free."""
    declare(guard, T0 - 3_000 * DAY)
    assert explained(guard, T0)
    assert not explained(guard, T0, account=PHARMACIST)
    login = make_event(time=T0 - timedelta(minutes=1), kind="login_success", account=GP)
    assert guard.decide(login).verdict is Verdict.ALLOW
    decision = guard.decide(make_event(time=T0, account=GP, subject=PATIENT))
    assert (decision.verdict, decision.reasons) == (Verdict.ALLOW, ())


def test_a_claim_401_days_old_explains_nothing(guard: Guard) -> None:
    """Dated evidence explains reads for 400 days, and not a day more."""
    declare(guard, T0 - 401 * DAY, EvidenceKind.CLAIM)
    assert explained(guard, T0 - 2 * DAY)
    assert not explained(guard, T0)


def test_dated_evidence_does_not_shorten_a_standing_relationship(guard: Guard) -> None:
    """A claim after the declaration (kept for 400 days) leaves the declaration standing."""
    declare(guard, T0 - 3_000 * DAY)
    declare(guard, T0 - 500 * DAY, EvidenceKind.CLAIM)
    assert explained(guard, T0)


def test_an_ended_relationship_explained_before_its_end_and_not_after(guard: Guard) -> None:
    """A record with ``ended`` at its own time takes the relationship out of the store."""
    declare(guard, T0 - 3_000 * DAY)
    assert explained(guard, T0 - timedelta(seconds=1))
    declare(guard, T0, ended=T0)
    assert not explained(guard, T0)
    assert not explained(guard, T0 + 3_000 * DAY)
    assert guard.store.member_count(GuardKeys.account_standing(GP), T0.timestamp()) == 0


def test_an_end_reported_late_ends_at_once(guard: Guard) -> None:
    """An end dated before the record's time (a change of doctor reported later) ends it now."""
    declare(guard, T0 - 3_000 * DAY)
    declare(guard, T0, ended=T0 - 10 * DAY)
    assert not explained(guard, T0 + timedelta(seconds=1))


def test_an_end_known_ahead_holds_until_then(guard: Guard) -> None:
    """A record whose ``ended`` is after its time keeps the relationship until ``ended``."""
    declare(guard, T0 - 3_000 * DAY)
    declare(guard, T0, ended=T0 + 10 * DAY)
    assert explained(guard, T0 + 10 * DAY - timedelta(seconds=1))
    assert not explained(guard, T0 + 10 * DAY)


def test_a_new_declaration_after_an_end_explains_again(guard: Guard) -> None:
    """Ending a relationship does not stop it being declared afresh later."""
    declare(guard, T0 - 3_000 * DAY)
    declare(guard, T0, ended=T0)
    declare(guard, T0 + DAY)
    assert explained(guard, T0 + 2_000 * DAY)


@pytest.mark.parametrize(
    ("kind", "holder"),
    [
        (EvidenceKind.ALD_PROTOCOL, {"account": GP}),
        (EvidenceKind.REGULAR_PATIENT, {"site": "S2"}),
    ],
)
def test_every_standing_kind_holds_until_ended_for_its_holder(
    guard: Guard, kind: EvidenceKind, holder: dict[str, str]
) -> None:
    """A protocol names an account, a pharmacy's regular names its site: each stands until
    ended, for that holder only."""
    account = GP if "account" in holder else PHARMACIST
    declare(guard, T0 - 3_000 * DAY, kind, **holder)
    assert explained(guard, T0, account=account)
    other = PHARMACIST if account == GP else GP
    assert not explained(guard, T0, account=other)
    declare(guard, T0, kind, ended=T0, **holder)
    assert not explained(guard, T0, account=account)


def test_ending_a_relationship_leaves_dated_evidence_explaining(guard: Guard) -> None:
    """An end removes the relationship only: a recent claim for the patient still explains."""
    declare(guard, T0 - 3_000 * DAY)
    declare(guard, T0 - 30 * DAY, EvidenceKind.CLAIM)
    declare(guard, T0, ended=T0)
    assert explained(guard, T0 + DAY)
