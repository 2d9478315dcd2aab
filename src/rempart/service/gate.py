"""The key gate: pure ASGI middleware refusing wrong keys before the framework does any work.

A request without a valid portal key is answered here, from its headers
alone: no routing, no dependency resolution, no exception machinery, no
body read. Refusing a wrong key then costs less than answering any real
request (``/health`` included), so a flood of wrong keys is no heavier than
the same flood of anything else, and never touches the decisions' threads.

What passes the gate goes on to the app, whose own dependency
(`rempart.service.api`) still checks the key, its scope and its role: the
gate lets through a right key (and hands it on in the request's state, so it
is not checked twice), a bouncer key (a 403 there), and a legacy argon2 key
not yet verified (checked there, slowly, one at a time). Everything else is
a 401, or a 429 with ``Retry-After`` once its address is throttled
(`rempart.service.throttle`). Routes open without a portal key (``/health``,
the bouncer stream) are not gated.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, Final

import msgspec
from structlog.typing import FilteringBoundLogger

from rempart.service.bodies import Problem
from rempart.service.keys import ApiKeys
from rempart.service.metrics import ServiceMetrics
from rempart.service.throttle import FailureThrottle

__all__ = ["UNAUTHORIZED", "KeyGate"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNAUTHORIZED: Final = "a valid API key is required: Authorization: Bearer <key>"
THROTTLED: Final = "too many failed authentications from this address"
STATE_KEY: Final = "api_key"
"""Where the gate leaves the key it found, in the request's state."""

_JSON: Final = (b"content-type", b"application/json")
_UNAUTHORIZED_BODY: Final = msgspec.json.encode(Problem(error="unauthorized", message=UNAUTHORIZED))
_THROTTLED_BODY: Final = msgspec.json.encode(Problem(error="too_many_failures", message=THROTTLED))


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


class KeyGate:
    """Refuses requests without a valid portal key on every path but ``open_paths``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        keys: ApiKeys,
        throttle: FailureThrottle,
        metrics: ServiceMetrics,
        logger: FilteringBoundLogger,
        open_paths: frozenset[str] = frozenset({"/health", "/v1/decisions/stream"}),
    ) -> None:
        self.app = app
        self.keys = keys
        self.throttle = throttle
        self.metrics = metrics
        self.logger = logger
        self.open_paths = open_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        token = _bearer(scope["headers"])
        if token is not None:
            found = self.keys.check(token)
            if found.key is not None:
                scope.setdefault("state", {})[STATE_KEY] = found.key
                await self.app(scope, receive, send)
                return
            if found.slow or self.keys.bouncer(token) is not None:
                await self.app(scope, receive, send)  # the app verifies, or says 403
                return
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        wait = self.throttle.retry_after(address)
        if wait is not None:
            self.metrics.auth_failures.labels(reason="throttled").inc()
            await _answer(send, 429, _THROTTLED_BODY, (b"retry-after", str(wait).encode()))
            return
        self.metrics.auth_failures.labels(reason="missing" if token is None else "wrong").inc()
        if self.throttle.failed(address):
            self.logger.warning("auth_throttled", address=address, seconds=self.throttle.window)
        self.logger.warning("unauthorized", presented=token is not None, address=address)
        await _answer(send, 401, _UNAUTHORIZED_BODY, (b"www-authenticate", b"Bearer"))


async def _answer(send: Send, status: int, body: bytes, header: tuple[bytes, bytes]) -> None:
    headers = [_JSON, (b"content-length", str(len(body)).encode()), header]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
