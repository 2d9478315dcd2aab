"""End to end: a robot on a followed log is challenged, locked out through the portal's webhook,
and its address banned, with the guard built from a world directory as the command builds it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rempart.decision import ActionKind
from rempart.directory import Account, OpeningInterval, Profession, Site, SiteKind
from rempart.follow import follow
from rempart.guard import Guard, Knowledge
from rempart.ingestion import write_records
from rempart.response import EnforcerRegistry, JsonlLedger, NftablesEnforcer, WebhookEnforcer
from rempart.response.webhook import SIGNATURE_HEADER, WebhookReceiver
from rempart.secret import Secret
from rempart.testing import pseudonym_for

from .stand_ins import T0, Clock, EventLines, append, event_line

SECRET = Secret(b"portal-shared-secret-0123456789ab")
ROBOT = "185.220.101.4"
SCRIPT = "python-requests/2.31.0"


@dataclass
class Portal:
    """The portal's webhook on loopback: acts on signed posts only (401 otherwise)."""

    server: ThreadingHTTPServer
    receiver: WebhookReceiver
    received: list[dict[str, object]] = field(default_factory=list)
    refused: int = 0

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/rempart/webhook"

    def actions(self) -> list[tuple[object, object]]:
        """(action, target) of every post acted on, in order."""
        return [(post["action"], post["target"]) for post in self.received]


def _handler(portal: list[Portal]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state = portal[0]
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if state.receiver.accept(body, self.headers.get(SIGNATURE_HEADER)):
                state.received.append(json.loads(body))
                self.send_response(200)
            else:
                state.refused += 1
                self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads what the portal received."""

    return Handler


@pytest.fixture
def clock() -> Clock:
    """Rempart's and the portal's clock, an hour into the robot's run."""
    return Clock(T0 + timedelta(hours=1))


@pytest.fixture
def portal(clock: Clock) -> Iterator[Portal]:
    """The portal's webhook receiver, serving on 127.0.0.1 in a thread."""
    holder: list[Portal] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(holder))
    holder.append(Portal(server, WebhookReceiver(SECRET, clock=clock)))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _world(folder: Path) -> Path:
    """A world directory: one Paris pharmacy open 07:00-22:00, four pharmacists."""
    folder.mkdir()
    site = Site(
        site="S1",
        kind=SiteKind.PHARMACY,
        department="75",
        commune="75056",
        timezone="Europe/Paris",
        hours=tuple(OpeningInterval(weekday=day, opens=420, closes=1320) for day in range(7)),
    )
    write_records(folder / "sites.jsonl", [site])
    accounts = [
        Account(account=name, profession=Profession.PHARMACIST, site="S1")
        for name in ("A1", "A2", "A3", "A4")
    ]
    write_records(folder / "accounts.jsonl", accounts)
    return folder


def _robot() -> list[list[str]]:
    """The robot's log lines, as written between polls: it signs in to A1 with a stolen password,
    reads patient after patient by typed NIR two seconds apart, then tries other accounts."""
    lines: list[str] = []
    number = 0

    def line(**fields: object) -> None:
        nonlocal number
        number += 1
        time = T0 + timedelta(seconds=2 * number)
        lines.append(event_line(number, time=time, ip=ROBOT, user_agent=SCRIPT, **fields))

    line(kind="login_success", account="A1", session="sr1")
    for patient in range(30):
        line(account="A1", session="sr1", subject=pseudonym_for(1_000 + patient))
    for account in ("A2", "A3", "A4", "A2"):
        line(kind="login_failure", account=account, session=None)
    return [lines[start : start + 5] for start in range(0, len(lines), 5)]


def test_a_robot_on_a_followed_log_is_locked_out_and_its_address_banned(
    tmp_path: Path, portal: Portal, clock: Clock
) -> None:
    """Reads by typed NIR are challenged, then denied: the portal is told to end the session and
    lock the account, and the guessing that follows bans the address (webhook and nftables)."""
    log = tmp_path / "access.log"
    chunks = iter(_robot())
    append(log, *next(chunks))
    guard = Guard(Knowledge.from_world(_world(tmp_path / "world")))
    with (
        JsonlLedger(tmp_path / "actions.jsonl") as ledger,
        WebhookEnforcer(
            portal.url,
            SECRET,
            kinds=frozenset(
                {ActionKind.REVOKE_SESSION, ActionKind.LOCK_ACCOUNT, ActionKind.BAN_ADDRESS}
            ),
            clock=clock,
        ) as webhook,
    ):
        enforcers = EnforcerRegistry()
        enforcers.register(webhook)
        enforcers.register(NftablesEnforcer(tmp_path / "rempart.nft", ledger))
        report = follow(
            log,
            EventLines(),
            guard,
            state=tmp_path / "access.log.follow",
            ledger=ledger,
            enforcers=enforcers,
            rejects=tmp_path / "rejects.jsonl",
            clock=clock,
            sleep=lambda seconds: append(log, *next(chunks, [])),
            max_polls=30,
        )
        recorded = [(record.kind, record.target) for record in ledger.records()]
    assert report.events == 35
    assert report.verdicts["challenge"] >= 3
    assert report.verdicts["deny"] >= 20
    assert report.actions_failed == 0
    assert portal.refused == 0
    assert portal.actions() == [
        ("revoke_session", "sr1"),
        ("lock_account", "A1"),
        ("ban_address", ROBOT),
    ]
    assert (ActionKind.ALERT, "A1") in recorded
    assert (ActionKind.BAN_ADDRESS, ROBOT) in recorded
    assert f"{ROBOT} timeout" in (tmp_path / "rempart.nft").read_text()
    assert not (tmp_path / "rejects.jsonl").read_text()
