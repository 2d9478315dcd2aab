"""A real CrowdSec bouncer enforces Rempart's bans: ``rempart serve`` and Debian's custom bouncer.

``rempart serve`` runs as a subprocess on a free loopback port over a small
world; ``crowdsec-custom-bouncer`` polls its ``/v1/decisions/stream`` every
second with a bouncer key and runs a script that appends its arguments
(``add IP SECONDS SCENARIO JSON`` or ``del ...``) to a file. Rempart bans an
address the way it does in production, from failed logins sent to
``/v1/decide``; the test waits, bounded, for the bouncer to add it, then to
delete it once lifted or expired. The events carry the wall-clock time here:
the server and the bouncer run on it, so this test cannot inject a clock.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec
import pytest

from rempart.service import ApiKeys
from rempart.service.keys import SCOPES
from rempart.testing import make_event

from ..system_tools import require_program
from .world import FAST_HASHER, knowledge

pytestmark = [pytest.mark.service, pytest.mark.slow]

GUESSER = "51.75.3.7"
WAIT_S = 30.0
SHORT_BAN_S = 5  # long enough for a 1 s poll to see it on a loaded machine


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until(condition: Callable[[], bool], what: str, *processes: Process) -> None:
    """Poll ``condition`` for up to WAIT_S seconds; fail saying ``what`` (and any crash)."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        for process in processes:
            process.check_alive()
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {WAIT_S} s waiting until {what}")
        time.sleep(0.1)


class Process:
    """A child process with its output in a file, always stopped and reaped by `stop`."""

    def __init__(self, name: str, command: list[str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as output:
            self.popen = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
            )

    def check_alive(self) -> None:
        """Fail the test, with the process's output, if it has exited."""
        if self.popen.poll() is not None:
            pytest.fail(f"{self.name} exited ({self.popen.returncode}):\n{self.log.read_text()}")

    def stop(self) -> None:
        """Terminate (then kill) the process and reap it."""
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=10)


class Deployment:
    """``rempart serve`` and a custom bouncer reading its stream, in ``directory``."""

    def __init__(self, directory: Path, bouncer_binary: Path, *, ban_minutes: float) -> None:
        self.directory = directory
        self.bouncer_binary = bouncer_binary
        self.ban_minutes = ban_minutes
        self.port = _free_port()
        self.calls = directory / "bouncer-calls.txt"
        self.ledger = directory / "ledger.jsonl"
        keys = ApiKeys(hasher=FAST_HASHER)
        _, portal = keys.generate("portal", scopes=SCOPES)  # it lifts the ban too
        _, bouncer = keys.generate("custom bouncer", role="bouncer")
        keys.save(directory / "keys.json")
        self.portal_key = portal.reveal().decode()
        self.bouncer_key = bouncer.reveal().decode()
        self.processes: list[Process] = []
        self.events = 0

    @property
    def url(self) -> str:
        """The API's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the API, wait for it, start the bouncer, wait for its startup poll."""
        self._start_server()
        self._start_bouncer()

    def _start_server(self) -> None:
        world = self.directory / "world"
        world.mkdir()
        directory = knowledge()
        (world / "sites.jsonl").write_bytes(
            b"".join(msgspec.json.encode(site) + b"\n" for site in directory.sites.values())
        )
        (world / "accounts.jsonl").write_bytes(
            b"".join(msgspec.json.encode(a) + b"\n" for a in directory.accounts.values())
        )
        policy = self.directory / "policy.toml"
        policy.write_text(f"[login]\nban_minutes = {self.ban_minutes}\n")
        script = Path(sys.executable).with_name("rempart")
        command = (
            [str(script)]
            if script.exists()
            else [sys.executable, "-c", "import rempart.cli as c; c.main()"]
        )
        self.server = self._spawn(
            "rempart serve",
            [
                *command,
                "serve",
                "--world",
                str(world),
                "--keys",
                str(self.directory / "keys.json"),
                "--policy",
                str(policy),
                "--ledger",
                str(self.ledger),
                "--port",
                str(self.port),
            ],
        )
        _wait_until(self._healthy, "rempart serve answers /health", self.server)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    def _start_bouncer(self) -> None:
        script = self.directory / "record-call.sh"
        script.write_text(f'#!/bin/sh\necho "$@" >> "{self.calls}"\n')
        script.chmod(0o755)
        config = self.directory / "crowdsec-custom-bouncer.yaml"
        config.write_text(
            "\n".join(
                [
                    f"bin_path: {script}",
                    "feed_via_stdin: false",
                    f"piddir: {self.directory}/",
                    "update_frequency: 1s",
                    "cache_retention_duration: 1s",
                    "daemonize: false",
                    "log_mode: stdout",
                    "log_level: info",
                    f"api_url: {self.url}/",
                    f"api_key: {self.bouncer_key}",
                    "prometheus:",
                    "  enabled: false",
                    "",
                ]
            )
        )
        self.bouncer = self._spawn(
            "crowdsec-custom-bouncer", [str(self.bouncer_binary), "-c", str(config)]
        )
        _wait_until(
            self._polled_at_startup, "the bouncer's startup poll", self.server, self.bouncer
        )

    def _polled_at_startup(self) -> bool:
        return any(
            line.get("event") == "decisions_streamed" and line.get("startup") is True
            for line in self.server_log()
        )

    def server_log(self) -> list[dict[str, object]]:
        """The server's JSON log lines so far (anything else it printed left out)."""
        lines = []
        for text in self.server.log.read_text().splitlines():
            try:
                lines.append(json.loads(text))
            except ValueError:
                continue
        return [line for line in lines if isinstance(line, dict)]

    def _spawn(self, name: str, command: list[str]) -> Process:
        process = Process(name, command, self.directory / f"{name.replace(' ', '-')}.log")
        self.processes.append(process)
        return process

    def stop(self) -> None:
        """Stop every process started (the bouncer first)."""
        for process in reversed(self.processes):
            process.stop()

    def guess_passwords(self, ip: str = GUESSER) -> None:
        """Failed logins on three accounts from ``ip``, now: the guard bans the address."""
        verdicts = []
        for account in ("A1", "A2", "A3"):
            self.events += 1
            event = make_event(
                kind="login_failure",
                outcome="failure",
                account=account,
                ip=ip,
                time=datetime.now(UTC),
                event_id=f"ev{self.events:06d}",
            )
            answer = httpx.post(
                f"{self.url}/v1/decide",
                content=msgspec.json.encode(event),
                headers={"Authorization": f"Bearer {self.portal_key}"},
                timeout=10.0,
            )
            assert answer.status_code == 200, answer.text
            verdicts.append(answer.json())
        assert [action["kind"] for action in verdicts[-1]["actions"]][:1] == ["ban_address"]

    def lift(self, ip: str = GUESSER) -> None:
        """Lift ``ip``'s ban through the API."""
        answer = httpx.post(
            f"{self.url}/v1/bans/{ip}/lift",
            headers={"Authorization": f"Bearer {self.portal_key}"},
            timeout=10.0,
        )
        assert answer.json() == {"address": ip, "banned": False}

    def called(self, action: str, ip: str = GUESSER) -> list[list[str]]:
        """The bouncer script's calls so far for ``action`` (``add``, ``del``) on ``ip``."""
        if not self.calls.exists():
            return []
        calls = [line.split(" ", 4) for line in self.calls.read_text().splitlines()]
        return [call for call in calls if call[:2] == [action, ip]]

    def wait_for(self, action: str, ip: str = GUESSER) -> list[str]:
        """Wait, bounded, until the bouncer runs its script for ``action`` on ``ip``."""
        _wait_until(
            lambda: bool(self.called(action, ip)),
            f"the bouncer runs `{action} {ip}`",
            self.server,
            self.bouncer,
        )
        return self.called(action, ip)[0]


@pytest.fixture
def bouncer_binary() -> Path:
    """Debian's crowdsec-custom-bouncer (skipped locally, failing under CI, when missing)."""
    return require_program("crowdsec-custom-bouncer", "crowdsec-custom-bouncer")


@pytest.fixture
def deployment_factory(
    tmp_path: Path, bouncer_binary: Path
) -> Iterator[Callable[[float], Deployment]]:
    """Starts a Deployment with a ban of the given minutes; every one is stopped afterwards."""
    started: list[Deployment] = []

    def start(ban_minutes: float) -> Deployment:
        directory = tmp_path / f"deployment{len(started)}"
        directory.mkdir()
        deployment = Deployment(directory, bouncer_binary, ban_minutes=ban_minutes)
        started.append(deployment)
        deployment.start()
        return deployment

    try:
        yield start
    finally:
        for deployment in started:
            deployment.stop()


def test_the_custom_bouncer_adds_a_ban_and_deletes_it_when_lifted(
    deployment_factory: Callable[[float], Deployment],
) -> None:
    """Password guessing makes the bouncer run ``add IP``; lifting the ban, ``del IP``."""
    deployment = deployment_factory(60)
    deployment.guess_passwords()
    added = deployment.wait_for("add")
    seconds = int(added[2])
    assert 3_500 < seconds <= 3_600  # the hour's ban, as a whole number of seconds left
    assert added[3] == "rempart/address_guessing"
    assert msgspec.json.decode(added[4])["origin"] == "rempart"
    assert deployment.called("del") == []
    deployment.lift()
    deleted = deployment.wait_for("del")
    ban_id = msgspec.json.decode(added[4])["id"]
    assert msgspec.json.decode(deleted[4])["id"] == ban_id
    assert len(deployment.called("add")) == 1
    ledger = [json.loads(line) for line in deployment.ledger.read_text().splitlines()]
    first = ledger[0]
    assert (first["id"], first["target"], first["trigger"]) == (ban_id, GUESSER, "guard:login")
    assert ledger[-1]["lifts"] == [ban_id]
    assert ledger[-1]["trigger"].startswith("key:")


def test_the_custom_bouncer_deletes_a_ban_that_expires(
    deployment_factory: Callable[[float], Deployment],
) -> None:
    """A ban that runs out (a policy of a few seconds) makes the bouncer run ``del IP`` unasked."""
    deployment = deployment_factory(SHORT_BAN_S / 60)
    deployment.guess_passwords()
    added = deployment.wait_for("add")
    assert 1 <= int(added[2]) <= SHORT_BAN_S
    deployment.wait_for("del")
    events = [line.get("event") for line in deployment.server_log()]
    assert "ban_lifted" not in events  # nobody lifted it: it expired
