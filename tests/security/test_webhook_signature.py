"""Issue #9, webhook replay: a signed timestamp and delivery id, a replay window, strict config."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from rempart.errors import ConfigError
from rempart.guard.decision import Action, ActionKind, Decision, Verdict
from rempart.response import EnforcerRegistry, MemoryLedger, RecordState, dispatch
from rempart.response.webhook import (
    SIGNATURE_HEADER,
    WebhookEnforcer,
    WebhookReceiver,
    sign,
    verify_signature,
)
from rempart.secret import Secret

SECRET = Secret(b"0123456789abcdef0123456789abcdef")  # 32 bytes, the minimum
T0 = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)
BODY = b'{"id":1,"action":"lock_account","target":"A00042"}'
DELIVERY = "5f0c4e2a9b1d4c3e8a7f6b5c4d3e2f1a"


def _header(at: datetime = T0, delivery_id: str = DELIVERY, body: bytes = BODY) -> str:
    return sign(SECRET, body, timestamp=at, delivery_id=delivery_id)


def test_the_signature_covers_time_id_and_body() -> None:
    """``v1`` is the HMAC-SHA256 of ``<t>.<id>.<body>``, as documented for receivers."""
    header = _header()
    fields = dict(part.split("=", 1) for part in header.split(","))
    assert fields["t"] == str(int(T0.timestamp()))
    assert fields["id"] == DELIVERY
    message = f"{fields['t']}.{DELIVERY}.".encode() + BODY
    assert fields["v1"] == hmac.new(SECRET.reveal(), message, hashlib.sha256).hexdigest()


def test_a_replayed_post_is_refused_by_the_receiver() -> None:
    """The same signed post is accepted once; replayed within the window, it is refused."""
    now = [T0]
    receiver = WebhookReceiver(SECRET, clock=lambda: now[0])
    header = _header()
    assert receiver.accept(BODY, header)
    now[0] = T0 + timedelta(seconds=30)
    assert not receiver.accept(BODY, header)
    assert receiver.accept(BODY, _header(now[0], "0" * 32))  # a new delivery is fine


@pytest.mark.parametrize("skew", [timedelta(minutes=6), -timedelta(minutes=6), timedelta(days=1)])
def test_a_post_outside_the_window_is_refused(skew: timedelta) -> None:
    """A correctly signed post whose time is more than 5 minutes off is refused."""
    header = _header(T0 + skew)
    assert not verify_signature(SECRET, BODY, header, now=T0)
    assert not WebhookReceiver(SECRET, clock=lambda: T0).accept(BODY, header)
    for within in (timedelta(minutes=4), -timedelta(minutes=4)):
        assert verify_signature(SECRET, BODY, _header(T0 + within), now=T0)


def test_changing_time_id_or_body_breaks_the_signature() -> None:
    """Each signed part is bound: a new ``t`` or ``id`` on an old ``v1`` does not verify."""
    header = _header()
    t, delivery, mac = header.split(",")
    later = str(int(T0.timestamp()) + 60)
    assert not verify_signature(SECRET, BODY, f"t={later},{delivery},{mac}", now=T0)
    assert not verify_signature(SECRET, BODY, f"{t},id={'1' * 32},{mac}", now=T0)
    assert not verify_signature(SECRET, BODY + b" ", header, now=T0)
    old_style = "sha256=" + hmac.new(SECRET.reveal(), BODY, hashlib.sha256).hexdigest()
    assert not verify_signature(SECRET, BODY, old_style, now=T0)  # body-only: replayable


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "é",
        "sha256=é",
        "t=1646125200,id=é,v1=00",
        "t=\u0661\u0662,id=" + DELIVERY + ",v1=" + "0" * 64,  # Arabic-Indic digits
        "t=1646125200,id=" + DELIVERY,
        "t=x,id=" + DELIVERY + ",v1=" + "0" * 64,
        "t=1646125200,id=" + DELIVERY + ",v1=" + "0" * 63,
        "t=1646125200,id=" + DELIVERY + ",v1=" + "0" * 64 + ",v1=" + "0" * 64,
        "t=99999999999999999999,id=" + DELIVERY + ",v1=" + "0" * 64,
        "\x00" * 100,
        "t=1646125200,id=" + DELIVERY + ",v1=" + "\uff10" * 64,
    ],
)
def test_verify_signature_is_false_never_an_exception_on_bad_headers(header: str | None) -> None:
    """A missing, malformed or non-ASCII header is refused with False, never raises."""
    assert verify_signature(SECRET, BODY, header, now=T0) is False
    assert WebhookReceiver(SECRET, clock=lambda: T0).accept(BODY, header) is False


@pytest.mark.parametrize("secret", [b"", b"k", b"k" * 31])
def test_short_secrets_are_refused(secret: bytes) -> None:
    """A secret under 32 bytes is a ConfigError, for the sender and the receiver."""
    with pytest.raises(ConfigError, match=r"webhook\.secret"):
        WebhookEnforcer("https://portal.example/hook", Secret(secret))
    with pytest.raises(ConfigError, match=r"webhook\.secret"):
        WebhookReceiver(Secret(secret), clock=lambda: T0)


@pytest.mark.parametrize(
    "url",
    [
        "http://portal.example/hook",
        "http://10.0.0.5/hook",
        "http://127.0.0.1.evil.example/hook",
        "ftp://portal.example/hook",
        "https:///hook",
    ],
)
def test_plain_http_is_refused_off_the_machine(url: str) -> None:
    """Only ``https://`` is accepted, but for loopback: a signed post is not sent in clear."""
    with pytest.raises(ConfigError, match=r"webhook\.url"):
        WebhookEnforcer(url, SECRET)


@pytest.mark.parametrize(
    "url",
    [
        "https://portal.example/hook",
        "http://127.0.0.1:8080/hook",
        "http://127.0.0.2/hook",
        "http://[::1]:8080/hook",
        "http://localhost:8080/hook",
    ],
)
def test_https_and_loopback_urls_are_accepted(url: str) -> None:
    """``https://`` anywhere, ``http://`` to this machine."""
    WebhookEnforcer(url, SECRET).close()


class _Receiver(BaseHTTPRequestHandler):
    """A portal's receiver: acts on a post only when `WebhookReceiver` accepts it."""

    receiver: WebhookReceiver
    acted: list[dict[str, object]]
    captured: list[tuple[bytes, str | None]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        header = self.headers.get(SIGNATURE_HEADER)
        self.captured.append((body, header))
        accepted = self.receiver.accept(body, header)
        if accepted:
            self.acted.append(json.loads(body))
        self.send_response(204 if accepted else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Receiver]]]:
    """A receiver on 127.0.0.1 with the real clock, as a portal would run it."""
    handler = type(
        "Handler",
        (_Receiver,),
        {
            "receiver": WebhookReceiver(SECRET, clock=lambda: datetime.now(UTC)),
            "acted": [],
            "captured": [],
        },
    )
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        host, port = httpd.server_address[:2]
        yield f"http://{host!s}:{port}/rempart/actions", handler
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=10)


def test_a_captured_post_replayed_to_the_portal_is_refused(
    server: tuple[str, type[_Receiver]],
) -> None:
    """The enforcer's post is carried out once; the same bytes and header sent again get 401."""
    url, handler = server
    registry = EnforcerRegistry()
    registry.register(WebhookEnforcer(url, SECRET, timeout=5.0))
    lock = Action(kind=ActionKind.LOCK_ACCOUNT, target="A00042")
    decision = Decision(event_id="ev1", verdict=Verdict.DENY, actions=(lock,), time=T0)
    (record,) = dispatch(MemoryLedger(), registry, decision, "guard:canary", T0)
    assert record.state is RecordState.APPLIED
    assert [message["action"] for message in handler.acted] == ["lock_account"]
    ((body, header),) = handler.captured
    replay = httpx.post(
        url, content=body, headers={SIGNATURE_HEADER: header or ""}, trust_env=False
    )
    assert replay.status_code == 401
    assert len(handler.acted) == 1
