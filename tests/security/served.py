"""`rempart serve` as a child process on a free loopback port, over the tests' tiny world.

Its events carry the wall-clock time (the server refuses events far from its clock), its
key has every scope, and `Served.kill` stops it as a crash would (SIGKILL).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from rempart.service import ApiKeys
from rempart.service.keys import SCOPES
from rempart.testing import make_event, pseudonym_for
from tests.service.world import HOME, knowledge

__all__ = ["Served", "free_port", "write_world"]

START_S = 30.0


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_world(directory: Path) -> Path:
    """The two-pharmacist world of ``tests.service.world`` as files `rempart serve` reads."""
    world = directory / "world"
    world.mkdir(exist_ok=True)
    known = knowledge()
    (world / "sites.jsonl").write_bytes(
        b"".join(msgspec.json.encode(site) + b"\n" for site in known.sites.values())
    )
    (world / "accounts.jsonl").write_bytes(
        b"".join(msgspec.json.encode(account) + b"\n" for account in known.accounts.values())
    )
    return world


class Served:
    """One `rempart serve` in ``directory`` with ``options``; `start`, `kill`, `stop`."""

    def __init__(self, directory: Path, *options: str) -> None:
        self.directory = directory
        self.world = write_world(directory)
        keys = ApiKeys()
        _, key = keys.generate("tests", scopes=SCOPES)
        keys.save(directory / "keys.json")
        self.key = key.reveal().decode()
        self.options = list(options)
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.log = directory / "serve.log"
        self.events = 0

    @property
    def url(self) -> str:
        """The API's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the server and wait, bounded, until it answers /health."""
        rempart = Path(sys.executable).with_name("rempart")
        command = [str(rempart), "serve", "--world", str(self.world)]
        command += ["--keys", str(self.directory / "keys.json"), "--port", str(self.port)]
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                [*command, *self.options],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_S
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"rempart serve exited:\n{self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"rempart serve did not answer in {START_S} s")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL the server, as a crash would, and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Terminate (then kill) the server, whatever state the test left it in."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def event(self, **fields: Any) -> dict[str, Any]:
        """A new event of account A1 at the home address, now, as a JSON-ready dict."""
        self.events += 1
        fields.setdefault("account", "A1")
        fields.setdefault("ip", HOME)
        fields.setdefault("session", "s1")
        if fields.get("kind", "record_view") == "record_view":
            fields.setdefault("subject", pseudonym_for(self.events))
        moment = datetime.now(UTC)
        return make_event(time=moment, event_id=f"ev{self.events:06d}", **fields).to_dict()

    def post(self, path: str, body: Any = None, timeout: float = 10.0) -> httpx.Response:
        """POST ``body`` as JSON to ``path`` with the key."""
        return httpx.post(
            f"{self.url}{path}",
            json=body,
            headers={"Authorization": f"Bearer {self.key}"},
            timeout=timeout,
        )

    def lock(self, account: str = "A1") -> int:
        """Lock ``account`` the way the guard does, a step-up it failed; the answer's status
        (503 in mode error while the store is away: the lock stands all the same)."""
        self.post("/v1/decide", self.event(kind="login_success", account=account))
        failed = self.post("/v1/step-up", {"event": self.event(account=account), "passed": False})
        assert failed.status_code in (200, 503), failed.text
        return failed.status_code

    def verdict(self, account: str = "A1", **fields: Any) -> tuple[str, list[str]]:
        """The verdict and reason codes for a login of ``account`` now."""
        event = self.event(kind="login_success", account=account, **fields)
        answer = self.post("/v1/decide", event)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        return body["verdict"], [reason["code"] for reason in body.get("reasons", [])]
