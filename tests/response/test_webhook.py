"""The webhook enforcer, against a real HTTP server on loopback that checks the signature."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from rempart.errors import ConfigError
from rempart.guard.decision import ActionKind
from rempart.response import (
    EnforcerRegistry,
    MemoryLedger,
    RecordState,
    WebhookEnforcer,
    dispatch,
    lift,
)
from rempart.response.webhook import SIGNATURE_HEADER, WebhookReceiver
from rempart.secret import Secret

from .actions import HOUR, T0, ban, lock

SECRET = Secret(b"portal-shared-secret-0123456789ab")


@dataclass
class Portal:
    """A loopback portal: answers ``status`` to signed posts, 401 to badly signed ones."""

    server: ThreadingHTTPServer
    receiver: WebhookReceiver
    status: int = 204
    received: list[dict[str, object]] = field(default_factory=list)
    signatures: list[str | None] = field(default_factory=list)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/rempart/actions"


def _handler(portal: list[Portal]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            state = portal[0]
            body = self.rfile.read(int(self.headers["Content-Length"]))
            signature = self.headers.get(SIGNATURE_HEADER)
            state.signatures.append(signature)
            if not state.receiver.accept(body, signature):
                self.send_response(401)
            else:
                state.received.append(json.loads(body))
                self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads what the portal received, not its log."""

    return Handler


@pytest.fixture
def portal() -> Iterator[Portal]:
    """A portal serving on 127.0.0.1 in a thread, shut down after the test."""
    holder: list[Portal] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(holder))
    holder.append(Portal(server, WebhookReceiver(SECRET, clock=lambda: datetime.now(UTC))))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield holder[0]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def webhook(portal: Portal) -> Iterator[WebhookEnforcer]:
    """A webhook enforcer posting to the portal, with a short timeout."""
    with WebhookEnforcer(portal.url, SECRET, timeout=5.0) as enforcer:
        yield enforcer


def _closed_port() -> int:
    """A loopback port that was bound and released, so nothing listens on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _registry(webhook: WebhookEnforcer) -> EnforcerRegistry:
    registry = EnforcerRegistry()
    registry.register(webhook)
    return registry


def test_revocation_and_lock_are_posted_signed(portal: Portal, webhook: WebhookEnforcer) -> None:
    """The portal receives each action as signed JSON and the records end ``applied``."""
    ledger = MemoryLedger()
    records = dispatch(ledger, _registry(webhook), lock("A00042"), "guard:canary", T0)
    assert [r.state for r in records] == [RecordState.APPLIED, RecordState.APPLIED]
    assert portal.received == [
        {
            "id": 1,
            "action": "revoke_session",
            "target": "s0001",
            "until": None,
            "trigger": "guard:canary",
            "time": "2022-03-01T09:00:00Z",
        },
        {
            "id": 2,
            "action": "lock_account",
            "target": "A00042",
            "until": None,
            "trigger": "guard:canary",
            "time": "2022-03-01T09:00:00Z",
        },
    ]
    assert all(s is not None and s.startswith("t=") for s in portal.signatures)
    assert len({s.split(",")[1] for s in portal.signatures if s}) == 2  # one delivery id each


def test_unlock_is_posted_on_lift(portal: Portal, webhook: WebhookEnforcer) -> None:
    """Lifting a lock posts ``unlock_account`` with the analyst as trigger."""
    ledger = MemoryLedger()
    registry = _registry(webhook)
    dispatch(ledger, registry, lock("A00042"), "guard:canary", T0)
    record = lift(ledger, registry, "A00042", ActionKind.LOCK_ACCOUNT, "analyst:alice", T0 + HOUR)
    assert record is not None
    assert record.state is RecordState.LIFTED
    assert portal.received[-1] == {
        "id": 3,
        "action": "unlock_account",
        "target": "A00042",
        "until": None,
        "trigger": "analyst:alice",
        "time": "2022-03-01T10:00:00Z",
    }


def test_bans_and_unbans_when_the_portal_wants_them(portal: Portal) -> None:
    """With ``ban_address`` among its kinds, bans and ``unban`` lifts are posted too."""
    ledger = MemoryLedger()
    with WebhookEnforcer(
        portal.url, SECRET, kinds=frozenset({ActionKind.BAN_ADDRESS}), timeout=5.0
    ) as enforcer:
        registry = _registry(enforcer)
        dispatch(ledger, registry, ban("90.12.34.56", T0 + HOUR), "guard:login_attacks", T0)
        lift(ledger, registry, "90.12.34.56", ActionKind.BAN_ADDRESS, "analyst:bob", T0)
    assert [(m["action"], m["until"]) for m in portal.received] == [
        ("ban_address", "2022-03-01T10:00:00Z"),
        ("unban", None),
    ]


def test_a_server_error_leaves_the_record_failed(portal: Portal, webhook: WebhookEnforcer) -> None:
    """A 500 from the portal marks the record ``failed`` with the status; the lock stands."""
    portal.status = 500
    ledger = MemoryLedger()
    _, locked = dispatch(ledger, _registry(webhook), lock("A00042"), "guard:canary", T0)
    assert locked.state is RecordState.FAILED
    assert locked.error == f"webhook: EnforcementError: {portal.url} answered 500"
    assert ledger.active(T0) == [locked]


def test_a_wrong_secret_is_refused_by_the_portal(portal: Portal) -> None:
    """Signed with another key, the post is refused by the portal's check and the record fails."""
    ledger = MemoryLedger()
    wrong = Secret(b"not-the-shared-secret-but-as-long-as-it")
    with WebhookEnforcer(portal.url, wrong, timeout=5.0) as enforcer:
        (_, locked) = dispatch(ledger, _registry(enforcer), lock("A1"), "guard:canary", T0)
    assert portal.received == []
    assert locked.error is not None
    assert locked.error.endswith("answered 401")


def test_an_unreachable_portal_fails_the_record() -> None:
    """A refused connection is an error on the record, not an exception out of dispatch."""
    url = f"http://127.0.0.1:{_closed_port()}/rempart/actions"
    ledger = MemoryLedger()
    with WebhookEnforcer(url, SECRET, timeout=2.0) as enforcer:
        (_, locked) = dispatch(ledger, _registry(enforcer), lock("A1"), "guard:canary", T0)
    assert locked.state is RecordState.FAILED
    assert locked.error is not None
    assert "ConnectError" in locked.error


def test_a_given_client_is_used_and_left_open(portal: Portal) -> None:
    """A client passed in is reused and not closed by the enforcer."""
    with httpx.Client() as client:
        enforcer = WebhookEnforcer(portal.url, SECRET, client)
        dispatch(MemoryLedger(), _registry(enforcer), lock("A1"), "guard:canary", T0)
        enforcer.close()
        assert not client.is_closed
    assert len(portal.received) == 2


def test_configuration_is_checked_and_the_secret_never_shown() -> None:
    """A bad URL or a short secret is a ConfigError; the repr shows stars for the secret."""
    with pytest.raises(ConfigError, match="webhook"):
        WebhookEnforcer("ftp://portal.example/hook", SECRET)
    with pytest.raises(ConfigError, match="webhook"):
        WebhookEnforcer("https://portal.example/hook", Secret(b""))
    with WebhookEnforcer("https://portal.example/hook", SECRET) as enforcer:
        assert SECRET.reveal().decode() not in repr(enforcer)
        assert "**********" in repr(enforcer)
