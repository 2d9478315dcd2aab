"""What the hardening benchmarks run against: a tiny world and a throwaway redis-server.

The world is one Paris pharmacy open every day with two pharmacists (``A1``,
``A2``), written as the ``sites.jsonl`` and ``accounts.jsonl`` that ``rempart
serve --world`` reads: the benchmarks time the service's answers, not the
guard on a big world (``api.py`` does that). The Redis server is Debian's
``redis-server`` on a free loopback port, nothing saved to disk, started and
stopped by the benchmark itself: no Redis needs to run beforehand.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import redis

from api import free_port
from rempart.directory import Account, OpeningInterval, Profession, Site, SiteKind
from rempart.testing import make_event

__all__ = ["RedisServer", "login", "write_world"]


def write_world(directory: Path, sites: int = 1, per_site: int = 2) -> Path:
    """The tiny world's directory, written under ``directory``.

    ``sites`` pharmacies ``S1``… like the first, each with ``per_site``
    pharmacists, numbered ``A1``, ``A2``… across the sites (the soak uses more).
    """
    world = directory / "world"
    world.mkdir(parents=True, exist_ok=True)
    every_day = tuple(OpeningInterval(weekday=day, opens=0, closes=1440) for day in range(7))
    places = [
        Site(
            site=f"S{number}",
            kind=SiteKind.PHARMACY,
            department="75",
            commune="75056",
            timezone="Europe/Paris",
            hours=every_day,
        )
        for number in range(1, sites + 1)
    ]
    accounts = [
        Account(account=f"A{number}", profession=Profession.PHARMACIST, site=f"S{site}")
        for number, site in enumerate(
            (site for site in range(1, sites + 1) for _ in range(per_site)), start=1
        )
    ]
    (world / "sites.jsonl").write_bytes(
        b"".join(msgspec.json.encode(site) + b"\n" for site in places)
    )
    (world / "accounts.jsonl").write_bytes(
        b"".join(msgspec.json.encode(account) + b"\n" for account in accounts)
    )
    return world


def login(number: int, account: str = "A1") -> bytes:
    """A successful login of ``account`` now, from a home address, as a JSON body."""
    event = make_event(
        time=datetime.now(UTC),
        event_id=f"bench{number:08d}",
        kind="login_success",
        account=account,
        ip="90.12.34.56",
        session=f"s{number}",
    )
    return msgspec.json.encode(event)


class RedisServer:
    """Debian's redis-server on a free loopback port, in ``directory``, nothing saved."""

    def __init__(self, directory: Path) -> None:
        executable = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(executable).exists():
            raise SystemExit("redis-server is not installed: apt-get install redis-server")
        self.executable = executable
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its URL, database 0."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it (empty) and wait until it answers."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                self.executable,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", str(self.directory)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=0.2)
        try:
            while True:
                try:
                    if client.ping():
                        return
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("redis-server did not answer within 10 s")
                time.sleep(0.02)
        finally:
            client.close()

    def stop(self) -> None:
        """Stop it, whatever state it is in (a paused server is resumed, then killed)."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(18)  # SIGCONT: a paused process cannot act on SIGKILL's exit
        process.kill()
        process.wait(timeout=10)
