"""Issue #9, row "a hung Redis in the default error mode": the chaos test. `rempart serve`
over a real throwaway redis-server, under load from several clients, in each outage mode:
Redis is paused (SIGSTOP), resumed, killed and restarted empty. Every request made during
the outage is answered by its mode within the store timeout (none waits behind another),
the service recovers by itself, and no lock is lost."""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx
import pytest
import redis

from rempart.stores import RedisStore
from tests.redis_server import Throwaway, wait_until

from .served import Served

pytestmark = pytest.mark.service

STORE_TIMEOUT = 0.2  # seconds, --store-timeout
SLACK = 0.3  # seconds on top, for a loaded two-core machine (a queue of 6 would be 1.2 s)
CLIENTS = 6


@dataclass(frozen=True)
class Answer:
    """One request of the load: when it was sent, how long it took, what came back."""

    sent: float
    seconds: float
    status: int
    verdict: str | None


@dataclass
class Load:
    """``CLIENTS`` threads deciding logins of unknown accounts in a loop until stopped."""

    served: Served
    answers: list[Answer] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        """Start the clients."""
        for number in range(CLIENTS):
            thread = threading.Thread(target=self._client, args=(number,), daemon=True)
            thread.start()
            self.threads.append(thread)

    def stop(self) -> None:
        """Stop the clients and wait for them."""
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=30)

    def _client(self, number: int) -> None:
        headers = {"Authorization": f"Bearer {self.served.key}"}
        with httpx.Client(base_url=self.served.url, headers=headers, trust_env=False) as client:
            count = 0
            while not self.stopping.is_set():
                count += 1
                event = self.served.event(
                    kind="login_success", account=f"B{number}", session=f"c{number}-{count}"
                )
                sent = time.monotonic()
                try:
                    response = client.post("/v1/decide", json=event, timeout=10.0)
                except httpx.HTTPError:
                    self.answers.append(Answer(sent, time.monotonic() - sent, 0, None))
                    continue
                seconds = time.monotonic() - sent
                verdict = response.json().get("verdict") if response.status_code == 200 else None
                self.answers.append(Answer(sent, seconds, response.status_code, verdict))
                time.sleep(0.01)

    def between(self, start: float, end: float) -> list[Answer]:
        """The answers to requests sent in ``[start, end)``."""
        return [answer for answer in self.answers if start <= answer.sent < end]


EXPECTED: dict[str, tuple[int, str | None]] = {
    "error": (503, None),
    "open": (200, "allow"),
    "closed": (200, "deny"),
}


def test_a_call_to_a_paused_redis_gives_up_within_the_timeout(tmp_path: Path) -> None:
    """A store made from a URL gives up on a paused server after its timeout, without
    retrying (redis-py's default client retried three times with back-off: 8 s)."""
    server = Throwaway(tmp_path)
    try:
        server.start()
        store = RedisStore(url=server.url, prefix="rempart-test:", timeout=STORE_TIMEOUT)
        assert store.get("k", 0.0) is None
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGSTOP)
        for _ in range(2):  # the pooled connection, then a new one
            started = time.monotonic()
            with pytest.raises(redis.TimeoutError):
                store.get("k", 0.0)
            assert time.monotonic() - started < STORE_TIMEOUT + SLACK
    finally:
        if server.process is not None and server.process.poll() is None:
            os.kill(server.process.pid, signal.SIGCONT)
        server.kill()


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["error", "open", "closed"])
def test_a_paused_then_killed_redis_under_load(
    tmp_path: Path, mode: Literal["error", "open", "closed"]
) -> None:
    """Pause Redis 1.5 s, resume, kill it, restart it empty: every request during each
    outage is answered by the mode within the store timeout (plus scheduling slack); the
    service recovers alone; the lock from before and the lock from during the outage both
    stand after, in Redis too."""
    server = Throwaway(tmp_path / "redis-data")
    (tmp_path / "redis-data").mkdir()
    served = Served(
        tmp_path,
        *("--redis", server.url, "--on-store-error", mode),
        *("--store-timeout", str(STORE_TIMEOUT), "--ledger", str(tmp_path / "ledger.jsonl")),
    )
    load = Load(served)
    client = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=2.0)
    try:
        server.start()
        served.start()
        assert served.lock("A1") == 200
        assert client.exists("rempart:v:guard.lock:A1")
        load.start()
        time.sleep(0.5)
        assert server.process is not None

        stopped = time.monotonic()
        os.kill(server.process.pid, signal.SIGSTOP)
        time.sleep(1.5)
        assert served.lock("A2") == (503 if mode == "error" else 200)  # while Redis hangs
        assert served.verdict("A1") == ("deny", ["account_locked"])
        resumed = time.monotonic()
        os.kill(server.process.pid, signal.SIGCONT)
        wait_until(lambda: _recoveries(served) == 1, "the service is back on Redis")

        killed = time.monotonic()
        server.process.kill()
        server.process.wait(timeout=10)
        time.sleep(1.0)
        restarted = time.monotonic()
        server.start()  # the same port, empty: nothing was saved
        wait_until(lambda: _recoveries(served) == 2, "the service is back on Redis")
        for account in ("A1", "A2"):
            wait_until(
                lambda account=account: bool(client.exists(f"rempart:v:guard.lock:{account}")),
                f"{account}'s lock back in the restarted Redis",
            )
        load.stop()

        status, verdict = EXPECTED[mode]
        for start, end in ((stopped, resumed), (killed, restarted)):
            during = load.between(start + 0.01, end)
            assert len(during) >= CLIENTS
            slowest = max(answer.seconds for answer in during)
            assert slowest < STORE_TIMEOUT + SLACK, f"{mode}: {slowest:.3f} s"
            assert {(a.status, a.verdict) for a in during} <= {(status, verdict), (200, "allow")}
            assert sum((a.status, a.verdict) == (status, verdict) for a in during) > len(during) / 2
        assert all(answer.status != 0 for answer in load.answers)

        for account in ("A1", "A2"):
            assert served.verdict(account) == ("deny", ["account_locked"])
    finally:
        load.stop()
        served.stop()
        client.close()
        if server.process is not None and server.process.poll() is None:
            os.kill(server.process.pid, signal.SIGCONT)
        server.kill()


def _recoveries(served: Served) -> int:
    """How many times the server has logged that its store came back."""
    return served.log.read_text().count('"event": "store_recovered"')
