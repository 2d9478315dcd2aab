"""Issue #9, row "locks lost on restart": locks and bans survive a kill -9 of the memory-store
server (the ledger is replayed), an eviction from the memory store, and a store outage in
every mode, including locks decided in fail-open mode, which reach the store once it is
back."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pytest
import redis

from rempart.errors import StoreUnavailableError
from rempart.stores import MemoryStore, ResilientStore
from rempart.stores.keys import GuardKeys
from tests.redis_server import wait_until
from tests.service.world import Portal, Service

from .served import Served

GUESSER = "51.75.3.7"


class FlakyStore(MemoryStore):
    """A memory store standing for Redis: thread-safe as far as the service knows, and
    raising Redis' ConnectionError on every call while ``down``."""

    concurrent = True
    down = False

    def __getattribute__(self, name: str) -> Any:
        attribute = super().__getattribute__(name)
        if name in _CALLS and super().__getattribute__("down"):
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")
        return attribute


_CALLS = frozenset(
    {"add_counts", "counts", "add_member", "remove_member", "has_member", "member_count"}
    | {"get", "put", "apply", "snapshot", "restore"}
)


@pytest.mark.slow
def test_locks_and_bans_survive_a_kill_9_of_the_memory_store_server(tmp_path: Path) -> None:
    """Lock an account and ban an address, kill -9 `rempart serve --ledger`, start it again:
    both still stand (the ledger is replayed at start)."""
    served = Served(tmp_path, "--ledger", str(tmp_path / "ledger.jsonl"))
    try:
        served.start()
        served.lock("A1")
        for account in ("A2", "A3", "A4"):
            guessed = served.post(
                "/v1/decide",
                served.event(kind="login_failure", account=account, ip=GUESSER, outcome="failure"),
            )
        assert "ban_address" in [action["kind"] for action in guessed.json()["actions"]]
        assert served.verdict("A1") == ("deny", ["account_locked"])
        served.kill()
        served.start()
        assert served.verdict("A1") == ("deny", ["account_locked"])
        assert served.verdict("A2", ip=GUESSER) == ("deny", ["address_banned"])
        assert served.verdict("A2") == ("allow", [])
    finally:
        served.stop()


def test_a_lock_survives_eviction_from_a_full_memory_store() -> None:
    """A flood of other accounts evicts the lock's store entry (the least recently
    written); the account stays locked."""
    store = MemoryStore(max_keys=60)
    service = Service(store=store)
    client, portal = service.client(), Portal()
    client.post("/v1/decide", json=portal.login())
    client.post("/v1/step-up", json={"event": portal.read(), "passed": False})
    flood = [
        portal.event(kind="login_failure", account=f"X{n}", ip=f"10.0.0.{n}", outcome="failure")
        for n in range(60)
    ]
    client.post("/v1/decide/batch", json=flood)
    assert store.evictions > 0
    assert store.get(GuardKeys.lock("A1"), 0.0) is None  # gone from the store...
    answer = client.post("/v1/decide", json=portal.login()).json()
    assert answer["reasons"][0]["code"] == "account_locked"  # ...not from the ledger


@pytest.mark.parametrize("mode", ["error", "open", "closed"])
def test_locks_hold_through_an_outage_in_every_mode_and_reach_the_store_after(
    mode: Literal["error", "open", "closed"],
) -> None:
    """While the shared store is away, a lock from before the outage is refused (not
    challenged, not a 503); a lock decided during it, even in fail-open mode, holds; once
    the store is back, empty, both are written into it."""
    primary = FlakyStore()
    resilient = ResilientStore(primary, mode="open" if mode == "open" else "closed", retry_after=0)
    service = Service(
        store=resilient,
        on_store_error=mode,
        store_errors=(StoreUnavailableError, redis.RedisError, OSError),
    )
    client, portal = service.client(), Portal()
    for account in ("A1", "A2"):
        client.post("/v1/decide", json=portal.login(account=account))
    client.post("/v1/step-up", json={"event": portal.read(), "passed": False})
    wait_until(lambda: primary.get(GuardKeys.lock("A1"), 0.0) is not None, "A1 locked in store")

    primary.down = True
    during = client.post("/v1/decide", json=portal.login())
    assert during.status_code == 200
    assert during.json()["reasons"][0]["code"] == "account_locked"
    failed = client.post(
        "/v1/step-up", json={"event": portal.read(account="A2", session="t1"), "passed": False}
    )
    if mode == "error":
        assert failed.status_code == 503
    else:
        assert {"kind": "lock_account", "target": "A2"} in failed.json()["actions"]
    a2 = client.post("/v1/decide", json=portal.login(account="A2", session="t1"))
    assert a2.json()["reasons"][0]["code"] == "account_locked"

    primary.down = False
    primary.restore(MemoryStore().snapshot())  # back, but empty (restarted without a save)
    client.get("/ready")  # the retry is due at once: this brings the store back
    client.post("/v1/decide", json=portal.login(account="A2", session="t2"))
    for account in ("A1", "A2"):
        wait_until(
            lambda account=account: primary.get(GuardKeys.lock(account), 0.0) is not None,
            f"{account}'s lock written back",
        )
        answer = client.post("/v1/decide", json=portal.login(account=account, session="t3"))
        assert answer.json()["reasons"][0]["code"] == "account_locked"
