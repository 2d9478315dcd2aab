"""The portal webhook: session revocation and account locks, signed, carried out by the portal.

Each action is one ``POST`` of a JSON object::

    {"id": 7, "action": "lock_account", "target": "A00042",
     "until": null, "trigger": "guard:canary", "time": "2022-03-01T09:00:00Z"}

``action`` is the record's kind (``revoke_session``, ``lock_account``,
``ban_address``), or for a lift ``unlock_account`` / ``unban``. Any answer
but 2xx, a timeout or a connection error raises `EnforcementError`.

**The signature.** Every post carries one header::

    X-Rempart-Signature: t=1646125200,id=9f0c4e2a...,v1=5d41402a...

``t`` is the sending time in Unix seconds, ``id`` a fresh delivery id (32
lower-case hex digits, new for every post, retries included) and ``v1`` the
lower-case hex HMAC-SHA256, under the shared secret, of the bytes
``<t>.<id>.<body>`` (the exact body bytes). A receiver checks, in this order:
the header parses; the HMAC matches (constant time); ``t`` is within its
window of its own clock (5 minutes by default, either way); ``id`` was not
seen within that window. `verify_signature` does the first three, statelessly;
`WebhookReceiver` adds the delivery-id check, so a captured post cannot be
replayed, not even within the window. The secret is at least
`MIN_SECRET_BYTES` long; the URL is ``https://``, or ``http://`` to the
machine itself (``localhost``, ``127.0.0.0/8``, ``[::1]``) only.

>>> from datetime import UTC, datetime
>>> secret = Secret(b"s" * 32)
>>> now = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)
>>> body = b'{"id":1}'
>>> header = sign(secret, body, timestamp=now, delivery_id="0" * 32)
>>> header.split(",")[:2]
['t=1646125200', 'id=00000000000000000000000000000000']
>>> verify_signature(secret, body, header, now=now)
True
>>> verify_signature(secret, body + b" ", header, now=now)
False
>>> verify_signature(secret, body, "t=é", now=now)
False
>>> receiver = WebhookReceiver(secret, clock=lambda: now)
>>> receiver.accept(body, header), receiver.accept(body, header)
(True, False)
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Final

import httpx
import msgspec

from rempart.errors import ConfigError
from rempart.guard.decision import ActionKind
from rempart.response.enforcers import EnforcementError
from rempart.response.record import ActionRecord
from rempart.secret import Secret

__all__ = [
    "MIN_SECRET_BYTES",
    "REPLAY_WINDOW",
    "SIGNATURE_HEADER",
    "WebhookEnforcer",
    "WebhookReceiver",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER: Final = "X-Rempart-Signature"
MIN_SECRET_BYTES: Final = 32
"""The shortest shared secret accepted (256 bits, the HMAC-SHA256 key size)."""
REPLAY_WINDOW: Final = timedelta(minutes=5)
"""How far a post's ``t`` may be from the receiver's clock, either way, by default."""
_HEADER: Final = re.compile(r"t=(?P<t>[0-9]{1,12}),id=(?P<id>[0-9a-f]{32}),v1=(?P<v1>[0-9a-f]{64})")
_LOOPBACK_NAMES: Final = frozenset({"localhost"})
_LIFT_ACTIONS: Final = {
    ActionKind.LOCK_ACCOUNT: "unlock_account",
    ActionKind.BAN_ADDRESS: "unban",
}


def _new_delivery_id() -> str:
    return uuid.uuid4().hex


def _mac(secret: Secret, timestamp: int, delivery_id: str, body: bytes) -> str:
    message = f"{timestamp}.{delivery_id}.".encode("ascii") + body
    return hmac.new(secret.reveal(), message, hashlib.sha256).hexdigest()


def sign(secret: Secret, body: bytes, *, timestamp: datetime, delivery_id: str) -> str:
    """The ``X-Rempart-Signature`` value for ``body`` sent at ``timestamp`` as ``delivery_id``."""
    if re.fullmatch(r"[0-9a-f]{32}", delivery_id) is None:
        raise ValueError("delivery_id: expected 32 lower-case hex digits")
    seconds = int(timestamp.timestamp())
    return f"t={seconds},id={delivery_id},v1={_mac(secret, seconds, delivery_id, body)}"


def _parsed(header: str | None) -> tuple[int, str, str] | None:
    """``(t, id, v1)`` of a well-formed header, else None (never raises)."""
    if not isinstance(header, str) or not header.isascii():
        return None
    found = _HEADER.fullmatch(header.strip())
    if found is None:
        return None
    return int(found["t"]), found["id"], found["v1"]


def verify_signature(
    secret: Secret,
    body: bytes,
    header: str | None,
    *,
    now: datetime,
    window: timedelta = REPLAY_WINDOW,
) -> bool:
    """Whether ``header`` signs ``body`` under ``secret`` and was sent within ``window`` of ``now``.

    The HMAC is compared in constant time. A missing, malformed or non-ASCII
    header is False, never an exception. The delivery id is not checked here
    (that needs memory): see `WebhookReceiver`.
    """
    parsed = _parsed(header)
    if parsed is None:
        return False
    seconds, delivery_id, mac = parsed
    expected = _mac(secret, seconds, delivery_id, body)
    if not hmac.compare_digest(expected, mac):
        return False
    return abs(now.timestamp() - seconds) <= window.total_seconds()


class WebhookReceiver:
    """The portal's side: accepts a post once, when signed, fresh, and not seen before.

    ``clock`` gives the receiver's time (aware). Delivery ids are remembered
    for twice ``window`` after their ``t`` (a post is accepted up to
    ``window`` either side of it), then forgotten: memory is bounded by
    what the sender posted in that time, and only the sender can sign.
    """

    def __init__(
        self,
        secret: Secret,
        *,
        clock: Callable[[], datetime],
        window: timedelta = REPLAY_WINDOW,
    ) -> None:
        _check_secret(secret)
        if window <= timedelta(0):
            raise ConfigError("webhook.window", "a positive duration", window)
        self._secret = secret
        self._clock = clock
        self._window = window
        self._seen: OrderedDict[str, float] = OrderedDict()  # delivery id -> forget after
        self._lock = threading.Lock()

    def accept(self, body: bytes, header: str | None) -> bool:
        """Whether to act on this post: a valid, fresh signature whose delivery id is new."""
        now = self._clock()
        if not verify_signature(self._secret, body, header, now=now, window=self._window):
            return False
        parsed = _parsed(header)
        if parsed is None:  # pragma: no cover - verify_signature parsed it
            return False
        seconds, delivery_id, _ = parsed
        moment = now.timestamp()
        with self._lock:
            while self._seen:  # ids are forgotten in the order they were seen
                oldest, forget_after = next(iter(self._seen.items()))
                if forget_after > moment:
                    break
                del self._seen[oldest]
            if delivery_id in self._seen:
                return False
            horizon = max(moment, seconds) + self._window.total_seconds()
            self._seen[delivery_id] = horizon
        return True


def _check_secret(secret: Secret) -> None:
    if not isinstance(secret, Secret) or len(secret.reveal()) < MIN_SECRET_BYTES:
        raise ConfigError(
            "webhook.secret",
            f"a Secret of at least {MIN_SECRET_BYTES} bytes",
            "<too short or not a Secret>",
        )


def _check_url(url: str) -> None:
    """``https://``, or ``http://`` to this machine only (a token in clear on a network is lost)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise ConfigError("webhook.url", "an https:// URL", url) from None
    host = parsed.host
    if parsed.scheme == "https" and host:
        return
    if parsed.scheme == "http" and host:
        if host.lower() in _LOOPBACK_NAMES:
            return
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            pass
    raise ConfigError(
        "webhook.url", "an https:// URL (http:// only to localhost, 127.0.0.1 or [::1])", url
    )


class WebhookEnforcer:
    """Posts signed actions to the portal, which revokes sessions and locks accounts.

    ``url``: the portal's endpoint (``https://``, or ``http://`` to this
    machine). ``secret``: the HMAC key shared with the portal, at least
    `MIN_SECRET_BYTES` long. ``client``: an `httpx.Client` to reuse (the
    caller closes it); else one is made and closed by `close`. ``kinds``:
    the action kinds sent (add ``ban_address`` when the portal also keeps a
    ban list). ``timeout``: seconds for the whole exchange. ``clock`` (the
    signing time, the wall clock by default) and ``delivery_ids`` (a fresh
    random id per post by default) are seams for tests.
    """

    def __init__(
        self,
        url: str,
        secret: Secret,
        client: httpx.Client | None = None,
        *,
        kinds: frozenset[ActionKind] = frozenset(
            {ActionKind.REVOKE_SESSION, ActionKind.LOCK_ACCOUNT}
        ),
        timeout: float = 5.0,
        name: str = "webhook",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        delivery_ids: Callable[[], str] = _new_delivery_id,
    ) -> None:
        _check_url(url)
        _check_secret(secret)
        if timeout <= 0:
            raise ConfigError("webhook.timeout", "a positive number of seconds", timeout)
        self.url = url
        self.name = name
        self.kinds = frozenset(kinds)
        self._secret = secret
        self._clock = clock
        self._delivery_ids = delivery_ids
        self._timeout = httpx.Timeout(timeout)
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=self._timeout)

    def payload(self, record: ActionRecord) -> dict[str, Any]:
        """The JSON object sent for ``record``."""
        if record.is_lift:
            action = _LIFT_ACTIONS.get(record.kind)
            if action is None:  # the ledger only lifts locks and bans
                raise EnforcementError(f"no lift message for {record.kind.value}")
        else:
            action = record.kind.value
        return {
            "id": record.id,
            "action": action,
            "target": record.target,
            "until": record.until,
            "trigger": record.trigger,
            "time": record.time,
        }

    def _send(self, record: ActionRecord) -> None:
        body = msgspec.json.encode(self.payload(record))
        signature = sign(
            self._secret, body, timestamp=self._clock(), delivery_id=self._delivery_ids()
        )
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
        try:
            response = self._client.post(
                self.url, content=body, headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as error:
            raise EnforcementError(f"{self.url}: {type(error).__name__}: {error}") from error
        if not response.is_success:
            raise EnforcementError(f"{self.url} answered {response.status_code}")

    def apply(self, record: ActionRecord) -> None:
        """Post ``record`` to the portal."""
        self._send(record)

    def lift(self, record: ActionRecord) -> None:
        """Post the lift ``record`` (``unlock_account`` or ``unban``) to the portal."""
        self._send(record)

    def close(self) -> None:
        """Close the HTTP client if this enforcer made it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> WebhookEnforcer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"WebhookEnforcer({self.url!r}, {self._secret!r})"
