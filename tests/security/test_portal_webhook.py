"""Issue #9, the webhook row: the reference portal verifies Rempart's signed posts, then acts."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import uvicorn

from rempart.errors import ConfigError
from rempart.guard import Knowledge
from rempart.guard.decision import Action, ActionKind, Decision, Verdict
from rempart.response import EnforcerRegistry, MemoryLedger, RecordState, dispatch, lift
from rempart.response.record import ActionRecord
from rempart.response.webhook import SIGNATURE_HEADER, WebhookEnforcer, sign
from rempart.secret import Secret
from rempart.testbed.portal.webhook import MAX_BODY_BYTES, WEBHOOK_PATH
from tests.portal.world import T0
from tests.security.helpers import raw_post
from tests.security.test_portal_hardening import ACCOUNT, Browser, World

WEBHOOK_SECRET = Secret(b"portal-webhook-secret-0123456789abcdef")
RELAY = "127.0.0.1"  # where Rempart posts from
OTHER = "80.10.20.30"  # another client, never banned here
_deliveries = count(1)

Forge = Callable[[bytes, datetime], tuple[bytes, str | bytes | None]]
"""Turns a body and the signing time into what is posted: a body and a bad header."""


@pytest.fixture
def world(world_dir: Path, knowledge: Knowledge) -> World:
    """A fresh portal that takes Rempart's webhook."""
    return World(world_dir, knowledge, webhook_secret=WEBHOOK_SECRET)


def _record(
    kind: ActionKind, target: str = ACCOUNT, *, until: datetime | None = None, lifting: bool = False
) -> ActionRecord:
    return ActionRecord(
        id=2 if lifting else 1,
        time=T0,
        kind=kind,
        target=target,
        trigger="analyst:alice" if lifting else "guard:canary",
        until=until,
        state=RecordState.LIFTED if lifting else RecordState.APPLIED,
        lifts=(1,) if lifting else (),
    )


def _body(kind: ActionKind, target: str = ACCOUNT, **options: Any) -> bytes:
    """The bytes Rempart's enforcer posts for this record."""
    sender = WebhookEnforcer("https://portal.example/rempart/webhook", WEBHOOK_SECRET)
    try:
        return msgspec.json.encode(sender.payload(_record(kind, target, **options)))
    finally:
        sender.close()


def _header(
    body: bytes, at: datetime, secret: Secret = WEBHOOK_SECRET, delivery: str | None = None
) -> str:
    delivery_id = delivery or f"{next(_deliveries):032x}"
    return sign(secret, body, timestamp=at, delivery_id=delivery_id)


def _post(
    world: World, body: bytes, header: str | bytes | None, address: str = RELAY
) -> httpx.Response:
    headers: dict[str, str | bytes] = {"Content-Type": "application/json"}
    if header is not None:
        headers[SIGNATURE_HEADER] = header
    return world.browser(address).request("POST", WEBHOOK_PATH, content=body, headers=headers)


def _send(world: World, body: bytes, address: str = RELAY) -> httpx.Response:
    """``body`` signed now on the portal's clock, with a fresh delivery id."""
    return _post(world, body, _header(body, world.clock()), address)


def _signed_in(world: World, address: str = "90.12.34.56") -> Browser:
    browser = world.browser(address)
    assert browser.login().status_code == 200
    assert browser.request("GET", "/").status_code == 200
    return browser


def _session_alive(browser: Browser) -> bool:
    return browser.request("GET", "/").status_code == 200  # else 303 to /login


def test_a_signed_lock_ends_the_session_and_refuses_sign_in_until_unlocked(world: World) -> None:
    """A lock ends the account's open session and refuses its logins; an unlock lets them in."""
    owner = _signed_in(world)
    answer = _send(world, _body(ActionKind.LOCK_ACCOUNT))
    assert (answer.status_code, answer.json()) == (200, {"status": "applied"})
    assert not _session_alive(owner)
    assert ACCOUNT not in world.portal.sessions.values()
    refused = world.browser().login()
    assert refused.status_code == 403
    assert refused.json()["reasons"] == ["account_locked"]
    world.clock.advance(3600)  # an open-ended lock does not wear off
    assert world.browser().login().status_code == 403
    unlock = _send(world, _body(ActionKind.LOCK_ACCOUNT, lifting=True))
    assert (unlock.status_code, unlock.json()) == (200, {"status": "applied"})
    _signed_in(world)


def test_a_lock_with_an_expiry_wears_off(world: World) -> None:
    """A lock ``until`` a time refuses sign-ins until then, not after."""
    until = T0 + timedelta(minutes=30)
    assert _send(world, _body(ActionKind.LOCK_ACCOUNT, until=until)).status_code == 200
    world.clock.advance(29 * 60)
    assert world.browser().login().status_code == 403
    world.clock.advance(2 * 60)
    _signed_in(world)


def test_a_revoked_session_ends_but_the_account_may_sign_in_again(world: World) -> None:
    """``revoke_session`` ends that session only: it is not a lock."""
    owner = _signed_in(world)
    other = _signed_in(world)
    session = owner.cookies.get("portal_session")
    assert session is not None
    assert _send(world, _body(ActionKind.REVOKE_SESSION, session)).status_code == 200
    assert not _session_alive(owner)
    assert _session_alive(other)
    _signed_in(world)


def test_a_replayed_post_is_refused_and_has_no_second_effect(world: World) -> None:
    """The same signed lock, sent again after an unlock, is refused and does not lock again."""
    body = _body(ActionKind.LOCK_ACCOUNT)
    header = _header(body, world.clock())
    assert _post(world, body, header).status_code == 200
    assert _send(world, _body(ActionKind.LOCK_ACCOUNT, lifting=True)).status_code == 200
    owner = _signed_in(world)
    world.clock.advance(30)  # well within the window
    replay = _post(world, body, header)
    assert (replay.status_code, replay.json()) == (401, {"error": "unauthorized"})
    assert _session_alive(owner)
    _signed_in(world)


def _wrong_secret(body: bytes, at: datetime) -> tuple[bytes, str | bytes | None]:
    return body, _header(body, at, Secret(b"another-secret-of-enough-length-0123"))


def _tampered(body: bytes, at: datetime) -> tuple[bytes, str | bytes | None]:
    return body.replace(ACCOUNT.encode(), b"A000002"), _header(body, at)


def _stale(body: bytes, at: datetime) -> tuple[bytes, str | bytes | None]:
    return body, _header(body, at - timedelta(minutes=6))


def _early(body: bytes, at: datetime) -> tuple[bytes, str | bytes | None]:
    return body, _header(body, at + timedelta(minutes=6))


def _missing(body: bytes, at: datetime) -> tuple[bytes, str | bytes | None]:
    return body, None


def _not_ascii(body: bytes, at: datetime) -> tuple[bytes, str | bytes | None]:
    header = _header(body, at)
    return body, header.replace("t=1", "t=\u0661", 1).encode()  # an Arabic-Indic one, UTF-8


def _body_only(body: bytes, at: datetime) -> tuple[bytes, str | bytes | None]:
    return body, _header(body, at).split(",")[2]


@pytest.mark.parametrize(
    "forge", [_wrong_secret, _tampered, _stale, _early, _missing, _not_ascii, _body_only]
)
def test_a_badly_signed_post_is_refused_with_no_effect(world: World, forge: Forge) -> None:
    """Wrong secret, tampered body, stale or early time, missing, non-ASCII or partial header."""
    owner = _signed_in(world)
    body, header = forge(_body(ActionKind.LOCK_ACCOUNT), world.clock())
    answer = _post(world, body, header)
    assert answer.status_code == 401
    assert answer.content == b'{"error":"unauthorized"}'  # the same bare answer for every cause
    assert _session_alive(owner)
    _signed_in(world)


def test_an_oversized_body_is_refused(world: World) -> None:
    """A body over the bound is 413, signed or not, and changes nothing."""
    owner = _signed_in(world)
    body = _body(ActionKind.LOCK_ACCOUNT)
    padded = body[:-1] + b"," + b" " * (MAX_BODY_BYTES - len(body)) + b"}"
    assert len(padded) == MAX_BODY_BYTES + 1
    answer = _send(world, padded)
    assert (answer.status_code, answer.json()) == (413, {"error": "too_large"})

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: refused as it streams
        yield body
        yield b" " * MAX_BODY_BYTES

    streamed = world.browser(RELAY).request(
        "POST", WEBHOOK_PATH, content=chunks(), headers={SIGNATURE_HEADER: _header(body, T0)}
    )
    assert streamed.status_code == 413
    assert _session_alive(owner)


def test_a_declared_oversized_body_is_refused_before_it_is_read(world: World) -> None:
    """A ``Content-Length`` over the bound is answered 413 without one read of the body."""
    headers = [(b"host", b"127.0.0.1"), (b"content-length", b"1000000000")]
    status, reads = raw_post(world.app, WEBHOOK_PATH, headers, [b"{}"], client=(RELAY, 50_000))
    assert status == 413
    assert reads == 0


@pytest.mark.parametrize(
    "body",
    [
        b'{"id":' + b"[" * 4000 + b"]" * 40,
        b'{"nested":' + b'{"a":' * 600 + b"1" + b"}" * 601,
        b"[" * 4000,
        b"not json",
    ],
    ids=["deep-array", "deep-object", "top-array", "not-json"],
)
def test_an_unreadable_signed_payload_is_refused_without_echo(world: World, body: bytes) -> None:
    """Deeply nested or malformed JSON, even signed, is a 422 that repeats none of it."""
    owner = _signed_in(world)
    answer = _send(world, body)
    assert answer.status_code == 422
    assert answer.content == b'{"error":"invalid_payload"}'
    assert _session_alive(owner)


def test_a_payload_with_an_unknown_field_or_a_bad_ban_target_is_refused(world: World) -> None:
    """Decoding is strict: an extra field, or a ban naming no address, is refused (422)."""
    payload = msgspec.json.decode(_body(ActionKind.LOCK_ACCOUNT))
    extra = msgspec.json.encode({**payload, "note": "<script>"})
    answer = _send(world, extra)
    assert answer.status_code == 422
    assert b"script" not in answer.content
    assert _send(world, _body(ActionKind.BAN_ADDRESS, "not-an-address")).status_code == 422
    _signed_in(world)


@pytest.mark.parametrize("action", ["alert", "notify_owner", "quarantine_device"])
def test_other_actions_are_acknowledged_and_ignored(world: World, action: str) -> None:
    """An action the portal does not carry out is a 200 ``ignored``, with nothing done."""
    owner = _signed_in(world)
    payload = msgspec.json.decode(_body(ActionKind.LOCK_ACCOUNT))
    answer = _send(world, msgspec.json.encode({**payload, "action": action}))
    assert (answer.status_code, answer.json()) == (200, {"status": "ignored"})
    assert _session_alive(owner)


def test_a_ban_refuses_the_address_until_unbanned(world: World) -> None:
    """A banned prefix gets 403 on every page; others do not; the webhook still lifts it."""
    assert _send(world, _body(ActionKind.BAN_ADDRESS, "90.12.34.0/24")).status_code == 200
    banned = world.browser("90.12.34.56")
    for answer in (banned.request("GET", "/login"), banned.login()):
        assert answer.status_code == 403
        assert answer.json() == {"error": "denied", "reasons": ["address_banned"]}
    _signed_in(world, OTHER)
    # A ban on Rempart's own address cannot stop it from lifting the ban.
    assert _send(world, _body(ActionKind.BAN_ADDRESS, "127.0.0.0/8")).status_code == 200
    unban = _body(ActionKind.BAN_ADDRESS, "127.0.0.0/8", lifting=True)
    assert _send(world, unban).status_code == 200
    unban = _body(ActionKind.BAN_ADDRESS, "90.12.34.0/24", lifting=True)
    assert _send(world, unban).status_code == 200
    _signed_in(world)


def test_without_a_secret_there_is_no_webhook(world_dir: Path, knowledge: Knowledge) -> None:
    """A portal given no webhook secret answers 404 to a well-signed post, and acts on nothing."""
    plain = World(world_dir, knowledge)
    answer = _send(plain, _body(ActionKind.LOCK_ACCOUNT))
    assert answer.status_code == 404
    _signed_in(plain)


def test_a_short_webhook_secret_is_refused(world_dir: Path, knowledge: Knowledge) -> None:
    """A webhook secret under 32 bytes stops the portal from being built."""
    with pytest.raises(ConfigError, match=r"webhook\.secret"):
        World(world_dir, knowledge, webhook_secret=Secret(b"k" * 31))


class _LivePortal:
    """The portal served by uvicorn on a free loopback port, in a background thread."""

    def __init__(self, world: World) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(
            world.app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="webhook-portal")

    def __enter__(self) -> _LivePortal:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the portal did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def test_rempart_s_own_enforcer_locks_and_unlocks_a_served_portal(world: World) -> None:
    """Dispatched through `WebhookEnforcer` to the portal over loopback, a lock and its lift act."""
    owner = _signed_in(world)
    ledger = MemoryLedger()
    with _LivePortal(world) as live:
        registry = EnforcerRegistry()
        enforcer = WebhookEnforcer(
            f"{live.url}{WEBHOOK_PATH}", WEBHOOK_SECRET, clock=world.clock, timeout=10.0
        )
        registry.register(enforcer)
        try:
            lock = Action(kind=ActionKind.LOCK_ACCOUNT, target=ACCOUNT)
            decision = Decision(event_id="ev1", verdict=Verdict.DENY, actions=(lock,), time=T0)
            (record,) = dispatch(ledger, registry, decision, "guard:canary", T0)
            assert record.state is RecordState.APPLIED, record.error
            assert not _session_alive(owner)
            assert world.browser().login().status_code == 403
            lifted = lift(ledger, registry, ACCOUNT, ActionKind.LOCK_ACCOUNT, "analyst:alice", T0)
            assert lifted is not None
            assert lifted.state is RecordState.LIFTED, lifted.error
            _signed_in(world)
        finally:
            enforcer.close()
