"""Issue #9, row "event time can erase state": an event far from the server's clock is refused,
and no event time, however far, shortens a lock or a ban; only an authorised lift ends them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
import redis

from rempart.guard import Guard
from rempart.service.limits import RequestLimits
from rempart.stores import MemoryStore, RedisStore
from rempart.stores.base import StateStore
from rempart.testing import make_event, pseudonym_for
from tests.service.world import HOME, T0, Portal, Service, knowledge

END_OF_TIME = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
GUESSER = "51.75.3.7"


def _locked_service(**options: object) -> tuple[Service, Portal]:
    service, portal = Service(**options), Portal()  # type: ignore[arg-type]
    client = service.client()
    client.post("/v1/decide", json=portal.login())
    failed = client.post("/v1/step-up", json={"event": portal.read(), "passed": False})
    assert failed.json()["verdict"] == "deny"
    return service, portal


def test_a_logout_dated_9999_is_refused_and_the_lock_stands() -> None:
    """The event that unlocked an account (a logout dated 9999-12-31) is a 422 naming its
    time, counted; the account stays locked."""
    service, portal = _locked_service(limits=RequestLimits())
    client = service.client()
    far = portal.event(kind="logout")
    far["time"] = END_OF_TIME.isoformat()
    refused = client.post("/v1/decide", json=far)
    assert refused.status_code == 422
    assert (refused.json()["error"], refused.json()["field"]) == ("clock_skew", "$.time")
    assert client.get("/v1/accounts/A1").json()["locked"] is True
    back = portal.login()
    back["time"] = (T0 + timedelta(minutes=3)).isoformat()
    assert client.post("/v1/decide", json=back).json()["verdict"] == "deny"


@pytest.mark.parametrize(
    ("offset", "status"),
    [(timedelta(seconds=290), 200), (timedelta(seconds=310), 422), (-timedelta(hours=1), 422)],
)
def test_events_beyond_the_skew_either_way_are_refused(offset: timedelta, status: int) -> None:
    """With the default five minutes, an event 290 s ahead passes; 310 s ahead or an hour
    behind is refused. Care evidence may be old, but not from the future."""
    service = Service(limits=RequestLimits())
    event = Portal().login()
    event["time"] = (T0 + offset).isoformat()
    assert service.client().post("/v1/decide", json=event).status_code == status
    evidence = {"time": (T0 + offset).isoformat(), "kind": "claim", "subject": pseudonym_for(1)}
    observed = service.client().post("/v1/evidence", json={**evidence, "site": "S1"})
    assert observed.status_code == (422 if offset > timedelta(seconds=300) else 202)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.service)])
def store(request: pytest.FixtureRequest) -> StateStore:
    """The guard's store: in memory, or the suite's Redis under a fresh prefix."""
    if request.param == "memory":
        return MemoryStore()
    url: str = request.getfixturevalue("redis_url")
    return RedisStore(redis.Redis.from_url(url), prefix=f"rempart-test:{uuid4().hex}:")


def test_no_event_time_reads_a_lock_as_expired(store: StateStore) -> None:
    """In the guard itself (memory and Redis), a lock from a failed step-up holds for an
    event dated 9999-12-31, and still holds afterwards for an event of today."""
    guard = Guard(knowledge(), store)
    read = make_event(time=T0, account="A1", ip=HOME, session="s1", subject=pseudonym_for(1))
    assert guard.step_up(read, passed=False).verdict.value == "deny"
    logout = make_event(time=END_OF_TIME, account="A1", ip=HOME, kind="logout")
    assert guard.decide(logout).reasons[0].code == "account_locked"
    later = make_event(time=T0 + timedelta(minutes=5), account="A1", ip=HOME, kind="login_success")
    assert guard.decide(later).reasons[0].code == "account_locked"
    guard.lift_lock("A1", now=T0 + timedelta(minutes=6))
    again = make_event(time=T0 + timedelta(minutes=7), account="A1", ip=HOME, kind="login_success")
    assert guard.decide(again).verdict.value == "allow"


def test_no_event_time_shortens_a_ban_the_service_holds() -> None:
    """With the time check off (a replay through the API), an event from a banned address
    dated a year on is still refused: the ban runs on the server's clock, and it stands for
    the next event of today."""
    service = Service(limits=RequestLimits(max_clock_skew=None))
    client, portal = service.client(), Portal()
    for account in ("A1", "A2", "A3"):
        guess = portal.event(kind="login_failure", account=account, ip=GUESSER, outcome="failure")
        decision = client.post("/v1/decide", json=guess).json()
    assert "ban_address" in [action["kind"] for action in decision["actions"]]
    next_year = portal.login(ip=GUESSER)
    next_year["time"] = (T0 + timedelta(days=365)).isoformat()
    assert client.post("/v1/decide", json=next_year).json()["reasons"][0]["code"] == (
        "address_banned"
    )
    today = client.post("/v1/decide", json=portal.login(ip=GUESSER)).json()
    assert today["reasons"][0]["code"] == "address_banned"
