"""Issue #9, rows "unauthenticated slowdown through the key check" and "every key has every
right; revocation needs a restart": wrong keys cost a SHA-256 and never argon2 or a thread,
an address sending them is throttled, keys carry scopes, actions log their key, and a key
revoked in the file stops working on a running server."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from rempart.guard import Guard
from rempart.service import ApiKeys, create_app
from rempart.service import keys as keys_module
from rempart.service.throttle import FailureThrottle
from rempart.stores.keys import GuardKeys
from rempart.testing import pseudonym_for
from tests.service.test_stream import CountingHasher
from tests.service.world import T0, Client, Portal, Service, knowledge

UNKNOWN_ID = "rk_000000000000_" + "x" * 43


def _wrong_secret(key: str) -> str:
    return key[:-1] + ("A" if key[-1] != "A" else "B")


def test_wrong_keys_never_reach_argon2() -> None:
    """Well-formed wrong keys (unknown ids, wrong secrets for a real id) are refused without
    a single argon2 verification, so they take nothing from the decisions."""
    service = Service()
    hasher = CountingHasher()
    service.keys.hasher = hasher
    for n in range(30):
        forged = UNKNOWN_ID if n % 2 else _wrong_secret(service.key)
        answer = Client(service.app, {"Authorization": f"Bearer {forged}"}).post(
            "/v1/decide", json=Portal().login()
        )
        assert answer.status_code == 401
    assert hasher.verifications == 0
    assert service.client().post("/v1/decide", json=Portal().login()).status_code == 200


def test_an_unknown_id_and_a_wrong_secret_take_the_same_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both are one constant-time comparison of two digests of the same length, so timing
    cannot tell which key ids exist."""
    compared: list[tuple[int, int]] = []
    real = keys_module.hmac.compare_digest

    def counting(first: str, second: str) -> bool:
        compared.append((len(first), len(second)))
        return real(first, second)

    keys = ApiKeys()
    _, clear = keys.generate("portal")
    monkeypatch.setattr(keys_module.hmac, "compare_digest", counting)
    assert keys.check(UNKNOWN_ID).key is None
    unknown = list(compared)
    compared.clear()
    assert keys.check(_wrong_secret(clear.reveal().decode())).key is None
    assert compared == unknown
    assert len(unknown) == 1
    assert unknown[0][0] == unknown[0][1]


def test_an_address_sending_wrong_keys_is_throttled_but_a_right_key_passes() -> None:
    """Past the limit, wrong keys from an address get 429 with Retry-After (counted), while
    a right key from the same address still decides."""
    service = Service(throttle=FailureThrottle(limit=3, window=60.0))
    forger = Client(service.app, {"Authorization": f"Bearer {UNKNOWN_ID}"})
    statuses = [forger.get("/ready").status_code for _ in range(5)]
    assert statuses == [401, 401, 401, 429, 429]
    throttled = forger.get("/ready")
    assert throttled.json()["error"] == "too_many_failures"
    assert 0 < int(throttled.headers["retry-after"]) <= 60
    assert service.client().post("/v1/decide", json=Portal().login()).status_code == 200
    metrics = service.client().get("/metrics").text
    assert 'rempart_auth_failures_total{reason="throttled"} 3.0' in metrics
    assert 'rempart_auth_failures_total{reason="wrong"} 3.0' in metrics
    # One line says the address is throttled; the throttled requests are not logged each.
    lines = [line["event"] for line in service.log_lines()]
    assert lines.count("auth_throttled") == 1
    assert lines.count("unauthorized") == 3


@pytest.mark.parametrize(
    ("method", "path", "scope"),
    [
        ("POST", "/v1/locks/A1/lift", "admin"),
        ("POST", "/v1/bans/90.12.34.56/lift", "admin"),
        ("GET", "/v1/accounts/A1", "read"),
        ("GET", "/metrics", "read"),
    ],
)
def test_the_portal_key_cannot_lift_locks_or_bans(method: str, path: str, scope: str) -> None:
    """A key made with the defaults (the portal's: decide and evidence) is a 403 on the
    routes of other scopes; a key with the scope passes."""
    service = Service()
    _, portal = service.keys.generate("portal")
    as_portal = Client(service.app, {"Authorization": f"Bearer {portal.reveal().decode()}"})
    assert as_portal.post("/v1/decide", json=Portal().login()).status_code == 200
    refused = as_portal.request(method, path)
    assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
    assert scope in refused.json()["message"]
    _, scoped = service.keys.generate("console", scopes=[scope])  # type: ignore[list-item]
    allowed = Client(service.app, {"Authorization": f"Bearer {scoped.reveal().decode()}"})
    assert allowed.request(method, path).status_code == 200


def test_every_action_logs_the_key_that_asked() -> None:
    """Decisions, step-up outcomes, evidence, account reads and lifts each log the key id."""
    service = Service()
    client, portal = service.client(), Portal()
    client.post("/v1/decide", json=portal.login())
    client.post("/v1/step-up", json={"event": portal.read(), "passed": False})
    evidence = {"time": portal.event()["time"], "kind": "claim", "subject": pseudonym_for(1)}
    client.post("/v1/evidence", json={**evidence, "site": "S1"})
    client.get("/v1/accounts/A1")
    service.guard.store.put(GuardKeys.ban("90.12.34.56"), [2e9, "test"], 0.0, 3e9)
    client.post("/v1/locks/A1/lift")
    client.post("/v1/bans/90.12.34.56/lift")
    logged: dict[str, Any] = {line["event"]: line for line in service.log_lines()}
    for action in ("decision", "evidence", "account_read", "lock_lifted", "ban_lifted"):
        assert logged[action]["key"] == service.key_id, action
    assert logged["lock_lifted"]["by"] == f"key:{service.key_id}"


def test_a_key_revoked_in_the_file_stops_working_without_a_restart(tmp_path: Path) -> None:
    """`rempart keys revoke` (another process, the same file) takes effect on the running
    app at its next look at the file; a key added there starts working the same way."""
    path = tmp_path / "keys.json"
    writer = ApiKeys()
    key_id, key = writer.generate("portal")
    writer.save(path)
    app = create_app(
        Guard(knowledge()),
        ApiKeys.load(path, reload_interval=0.0),
        clock=lambda: T0,
        log_stream=io.StringIO(),
    )
    client = Client(app, {"Authorization": f"Bearer {key.reveal().decode()}"})
    assert client.get("/ready").status_code == 200
    other = ApiKeys.load(path)
    other.revoke(key_id)
    _, added = other.generate("new portal")
    other.save(path)
    assert client.get("/ready").status_code == 401
    fresh = Client(app, {"Authorization": f"Bearer {added.reveal().decode()}"})
    assert fresh.get("/ready").status_code == 200
