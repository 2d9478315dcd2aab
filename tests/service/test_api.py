"""The decision API: keys on every endpoint but health, decisions, evidence, step-up, locks,
bans, account state, located 422s and store-error answers."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.routing import APIRoute
from starlette.routing import Route

from rempart.service.bodies import MAX_BATCH
from rempart.stores.keys import GuardKeys
from rempart.testing import pseudonym_for

from .world import NIR, BrokenStore, Client, Portal, Service

SERVICE = Service()
OPEN_ROUTES = {"/health"}
BOUNCER_ROUTES = {"/v1/decisions/stream"}  # X-Api-Key, as CrowdSec's: tests/service/test_stream.py


def _routes() -> list[tuple[str, str]]:
    """Every (method, path) the app serves, path parameters filled in."""
    found: list[tuple[str, str]] = []
    for route in SERVICE.app.routes:
        if not isinstance(route, APIRoute | Route) or route.path in OPEN_ROUTES | BOUNCER_ROUTES:
            continue
        path = re.sub(r"\{[^}]+\}", "90.12.34.56", route.path)
        found.extend((method, path) for method in sorted(route.methods or ()))
    return found


@pytest.mark.parametrize(("method", "path"), _routes())
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Bearer rk_000000000000_" + "x" * 43,  # well formed, unknown id
        "Bearer not-a-key",
        "Basic dXNlcjpwYXNz",
    ],
)
def test_every_endpoint_but_health_refuses_a_missing_or_wrong_key(
    method: str, path: str, authorization: str | None
) -> None:
    """Without a valid key every route (found in the app, so new ones are covered) is a 401."""
    headers = {"Authorization": authorization} if authorization else {}
    response = Client(SERVICE.app).request(method, path, headers=headers, content=b"{}")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"] == "unauthorized"


def test_a_valid_key_with_a_wrong_secret_is_refused() -> None:
    """The key's id alone opens nothing: its secret must match the stored hash."""
    forged = SERVICE.key[:-1] + ("A" if SERVICE.key[-1] != "A" else "B")
    client = Client(SERVICE.app, {"Authorization": f"Bearer {forged}"})
    assert client.get("/ready").status_code == 401


def test_health_needs_no_key_and_the_openapi_document_does() -> None:
    """Liveness answers anyone; the OpenAPI document, like every other route, needs a key."""
    assert Client(SERVICE.app).get("/health").json() == {"status": "ok"}
    assert Client(SERVICE.app).get("/openapi.json").status_code == 401
    document = SERVICE.client().get("/openapi.json").json()
    assert "security" not in document["paths"]["/health"]["get"]
    for path, operations in document["paths"].items():
        for operation in operations.values():
            if path in BOUNCER_ROUTES:
                assert operation["security"] == [{"APIKeyHeader": []}]
                assert "403" in operation["responses"]
            elif path not in OPEN_ROUTES:
                assert operation["security"] == [{"HTTPBearer": []}]
                assert {"401", "403"} <= operation["responses"].keys()


def test_decide_allows_ten_unexplained_reads_then_challenges_the_eleventh() -> None:
    """Over HTTP as in-process: the budget of ten unexplained reads an hour, then a challenge."""
    client, portal = Service().client(), Portal()
    assert client.post("/v1/decide", json=portal.login()).json()["verdict"] == "allow"
    verdicts = [
        client.post("/v1/decide", json=portal.read(gap=300)).json()["verdict"] for _ in range(11)
    ]
    assert verdicts == ["allow"] * 10 + ["challenge"]
    last = client.post("/v1/decide", json=portal.read()).json()
    assert last["reasons"][0]["code"] == "unexplained_budget"
    assert last["event_id"] == f"ev{portal.count:06d}"


def test_batch_decides_in_order_exactly_as_single_calls() -> None:
    """A batch answers one decision per event, in order, equal to sending them one by one."""
    portal = Portal()
    events = [portal.login()] + [portal.read(gap=300) for _ in range(12)]
    one_by_one = Service().client()
    singles = [one_by_one.post("/v1/decide", json=event).json() for event in events]
    batch = Service().client().post("/v1/decide/batch", json=events)
    assert batch.status_code == 200
    assert batch.json() == singles
    assert [d["verdict"] for d in singles][-2:] == ["challenge", "challenge"]


def test_batch_over_the_limit_is_refused_whole() -> None:
    """More than MAX_BATCH events is a 422 and no event is decided."""
    service = Service()
    portal = Portal()
    events = [portal.login() for _ in range(MAX_BATCH + 1)]
    response = service.client().post("/v1/decide/batch", json=events)
    assert response.status_code == 422
    assert "length <= 1000" in response.json()["message"]
    assert not [line for line in service.log_lines() if line["event"] == "decision"]


def test_evidence_explains_a_read_so_it_spends_no_budget() -> None:
    """Care evidence for a patient at the account's site makes a read of that patient free."""
    client, portal = Service().client(), Portal()
    client.post("/v1/decide", json=portal.login())
    explained = pseudonym_for(500)
    evidence = {"time": portal.event()["time"], "kind": "card_read", "subject": explained}
    answer = client.post("/v1/evidence", json={**evidence, "site": "S1"})
    assert (answer.status_code, answer.json()) == (202, {"observed": 1})
    assert client.post("/v1/decide", json=portal.read(explained)).json()["verdict"] == "allow"
    state = client.get("/v1/accounts/A1").json()
    assert state["unexplained_reads"] == {"hour": 0.0, "day": 0.0, "week": 0.0}
    client.post("/v1/decide", json=portal.read())
    assert client.get("/v1/accounts/A1").json()["unexplained_reads"]["hour"] == 1.0


def test_evidence_accepts_a_list() -> None:
    """A list of evidence is observed whole and counted."""
    client = Service().client()
    pieces = [
        {
            "time": "2022-03-01T09:00:00Z",
            "kind": "claim",
            "subject": pseudonym_for(n),
            "account": "A1",
        }
        for n in range(3)
    ]
    answer = client.post("/v1/evidence", json=pieces)
    assert (answer.status_code, answer.json()) == (202, {"observed": 3})


def test_evidence_ends_a_standing_relationship_and_refuses_an_end_on_dated_evidence() -> None:
    """A treating-doctor declaration explains a read until a record ends it; ``ended`` on a
    claim is a 422 naming the field."""
    client, portal = Service().client(), Portal()
    client.post("/v1/decide", json=portal.login())
    kept, changed = pseudonym_for(600), pseudonym_for(601)
    declarations = [
        {"time": "2014-01-06T09:00:00Z", "kind": "treating_doctor", "subject": patient}
        | {"account": "A1"}
        for patient in (kept, changed)
    ]
    assert client.post("/v1/evidence", json=declarations).status_code == 202
    now = portal.event()["time"]
    ending = {**declarations[1], "time": now, "ended": now}
    assert client.post("/v1/evidence", json=ending).status_code == 202
    client.post("/v1/decide", json=portal.read(kept))
    assert client.get("/v1/accounts/A1").json()["unexplained_reads"]["hour"] == 0.0
    client.post("/v1/decide", json=portal.read(changed))
    assert client.get("/v1/accounts/A1").json()["unexplained_reads"]["hour"] == 1.0
    refused = client.post("/v1/evidence", json={**ending, "kind": "claim"})
    assert (refused.status_code, refused.json()["field"]) == (422, "$.ended")


def test_failed_step_up_locks_the_account_and_lifting_unlocks_it() -> None:
    """A failed step-up denies and locks; the state shows the lock; lifting it lets the
    account log in again."""
    client, portal = Service().client(), Portal()
    client.post("/v1/decide", json=portal.login())
    challenged = portal.read()
    failed = client.post("/v1/step-up", json={"event": challenged, "passed": False}).json()
    assert failed["verdict"] == "deny"
    assert {"kind": "lock_account", "target": "A1"} in failed["actions"]
    state = client.get("/v1/accounts/A1").json()
    assert state["locked"] is True
    assert state["lock_reason"] == "failed step-up"
    assert state["locked_since"] == challenged["time"]
    assert client.post("/v1/decide", json=portal.login()).json()["verdict"] == "deny"
    lifted = client.post("/v1/locks/A1/lift")
    assert lifted.json() == {"account": "A1", "locked": False}
    assert client.get("/v1/accounts/A1").json()["locked"] is False
    assert client.post("/v1/decide", json=portal.login()).json()["verdict"] == "allow"


def test_passed_step_up_allows_the_read() -> None:
    """A passed step-up answers allow with its reason."""
    client, portal = Service().client(), Portal()
    client.post("/v1/decide", json=portal.login())
    passed = client.post("/v1/step-up", json={"event": portal.read(), "passed": True}).json()
    assert passed["verdict"] == "allow"
    assert [r["code"] for r in passed["reasons"]] == ["step_up_passed"]


def test_lifting_a_ban_lets_the_address_through() -> None:
    """A banned address is denied until its ban is lifted through the API."""
    service, portal = Service(), Portal()
    client = service.client()
    service.guard.store.put(GuardKeys.ban("90.12.34.56"), [2e9, "password guessing"], 0.0, 3e9)
    assert client.post("/v1/decide", json=portal.login()).json()["verdict"] == "deny"
    assert client.post("/v1/bans/90.12.34.56/lift").json() == {
        "address": "90.12.34.56",
        "banned": False,
    }
    assert client.post("/v1/decide", json=portal.login()).json()["verdict"] == "allow"
    assert client.post("/v1/bans/not-an-ip/lift").json()["field"] == "address"


def test_account_state_shows_the_last_decisions_newest_first() -> None:
    """The state lists the account's latest decisions, newest first, at most 50; other
    accounts' decisions stay out."""
    client, portal = Service().client(), Portal()
    client.post("/v1/decide", json=portal.login(account="A2", session="t1"))
    sent = [portal.login(session=f"s{n}") for n in range(60)]
    client.post("/v1/decide/batch", json=sent)
    state = client.get("/v1/accounts/A1").json()
    assert state["account"] == "A1"
    assert state["known"] is True
    ids = [decision["event_id"] for decision in state["recent_decisions"]]
    assert ids == [event["event_id"] for event in reversed(sent)][:50]
    unknown = client.get("/v1/accounts/nobody").json()
    assert (unknown["known"], unknown["recent_decisions"]) == (False, [])


def test_an_account_with_a_slash_is_addressable() -> None:
    """Account ids may hold a slash: the path still addresses the whole id."""
    client = Service().client()
    state = client.get("/v1/accounts/site%2F12/desk").json()
    assert state["account"] == "site/12/desk"
    assert client.post("/v1/locks/site/12/desk/lift").json()["account"] == "site/12/desk"


@pytest.mark.parametrize(
    ("url", "body", "field", "message"),
    [
        ("/v1/decide", {"kind": "teleport"}, "$.kind", "Not one of the accepted values"),
        ("/v1/decide", {"ip": "999.1.1.1"}, "$.ip", "not an IPv4 or IPv6 address"),
        ("/v1/decide", {"event_id": 7}, "$.event_id", "Expected `str`, got `int`"),
        ("/v1/decide/batch", [{}, {"kind": "teleport"}], "$[1].kind", "Not one of the accepted"),
        ("/v1/step-up", {"event": {"kind": "teleport"}}, "$.event.kind", "Not one of the accepted"),
        ("/v1/decide", {"time": "0001-01-01T00:00:00+01:00"}, "$.time", "out of range"),
        (
            "/v1/decide",
            {
                "kind": "search",
                "lookup": "search",
                "result_count": 1,
                "results": [pseudonym_for(1), pseudonym_for(2)],
            },
            "$.results",
            "2 people listed but result_count is 1",
        ),
    ],
)
def test_a_bad_event_is_a_422_naming_the_field(
    url: str, body: dict[str, Any] | list[dict[str, Any]], field: str, message: str
) -> None:
    """A bad event answers 422 with the JSON path of the culprit and what is wrong with it."""
    good = Portal().login()
    if isinstance(body, list):
        payload: Any = [{**good, **item} for item in body]
    elif "event" in body:
        payload = {"event": {**good, **body["event"]}, "passed": True}
    else:
        payload = {**good, **body}
    response = SERVICE.client().post(url, json=payload)
    assert response.status_code == 422
    problem = response.json()
    assert problem["error"] == "invalid_request"
    assert problem["field"] == field
    assert message in problem["message"]


def test_malformed_json_and_integral_floats() -> None:
    """Malformed JSON is a 422 of its own; ``3.0`` is an integer, as JSON Schema says."""
    client = SERVICE.client()
    broken = client.post("/v1/decide", content=b'{"kind": ', headers={"Content-Type": "x"})
    assert (broken.status_code, broken.json()["error"]) == (422, "malformed_json")
    search = Portal().event(kind="search", subject=None, result_count=3)
    assert client.post("/v1/decide", json={**search, "result_count": 3.0}).status_code == 200
    assert client.post("/v1/decide", json={**search, "result_count": 3.5}).status_code == 422


@pytest.mark.parametrize(
    ("policy", "status", "verdict"),
    [("error", 503, None), ("open", 200, "allow"), ("closed", 200, "deny")],
)
def test_a_store_that_fails_is_counted_logged_and_answered_by_the_policy(
    policy: str, status: int, verdict: str | None
) -> None:
    """When the store raises, decide answers 503, allow or deny (``store_unavailable``) as
    configured, the failure is counted and logged; reads of state answer 503."""
    store = BrokenStore()
    service = Service(store=store, on_store_error=policy)
    client, portal = service.client(), Portal()
    store.broken = True
    response = client.post("/v1/decide", json=portal.login())
    assert response.status_code == status
    if verdict is None:
        assert response.json()["error"] == "store_unavailable"
    else:
        assert response.json()["verdict"] == verdict
        assert [r["code"] for r in response.json()["reasons"]] == ["store_unavailable"]
    failed = client.post("/v1/step-up", json={"event": portal.read(), "passed": False})
    if verdict is not None:
        assert failed.json()["verdict"] == "deny"  # a failed step-up is never let through
    for answer in (
        client.get("/ready"),
        client.get("/v1/accounts/A1"),
        client.post("/v1/locks/A1/lift"),
        client.post("/v1/bans/90.12.34.56/lift"),
        client.post(
            "/v1/evidence",
            json={
                "time": portal.event()["time"],
                "kind": "claim",
                "subject": pseudonym_for(1),
                "site": "S1",
            },
        ),
    ):
        assert answer.status_code == 503
    metrics = client.get("/metrics").text
    assert "rempart_store_errors_total 7.0" in metrics
    errors = [line for line in service.log_lines() if line["event"] == "store_error"]
    assert len(errors) == 7
    assert errors[0]["error"] == "ConnectionError"
    store.broken = False
    assert client.get("/ready").json() == {"status": "ready"}


def test_nir_in_an_event_never_reaches_the_response_of_another_account() -> None:
    """A clear NIR typed into a user agent is accepted (it is the portal's field) but the
    recent decisions shown for the account carry no user agent at all."""
    client, portal = Service().client(), Portal()
    client.post("/v1/decide", json=portal.login(user_agent=f"curl NIR={NIR}"))
    assert NIR not in client.get("/v1/accounts/A1").text
