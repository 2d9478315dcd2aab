"""Rempart's webhook, received: ``POST /rempart/webhook``, verified, then carried out.

Enabled by ``create_portal(webhook_secret=...)``, the secret shared with
Rempart's `rempart.response.webhook.WebhookEnforcer` (which documents the
post and its signature). A post is checked in this order, each refusal
cheap and saying nothing about what was sent:

1. **Size.** A ``Content-Length`` over `MAX_BODY_BYTES` is refused (413)
   before the body is read; a longer body without one, as soon as it goes
   past.
2. **Signature.** `WebhookReceiver`: the HMAC over time, delivery id and
   body; the time within 5 minutes of the portal's clock; the delivery id
   never accepted before. Any failure (missing, malformed, wrong, stale,
   replayed) is the same bare 401.
3. **Payload.** Decoded strictly into `WebhookAction` (unknown fields and
   wrong types refused). It is one flat object, so the decoder never
   descends into a nested value: it refuses it at its first bracket, however
   deep it goes. Else 422 ``invalid_payload``.

Then the portal acts, and answers 200 ``applied``:

- ``revoke_session``: the session ends;
- ``lock_account``: every session of the account ends, and its sign-ins are
  refused (403 ``account_locked``) until ``until`` or ``unlock_account``;
- ``ban_address``: every request from the address or prefix is refused
  (403 ``address_banned``) until ``until`` or ``unban``, except posts to this
  endpoint, so that a ban can always be lifted;
- ``unlock_account``, ``unban``: the lock or ban is lifted.

Any other action (``alert``, ``notify_owner``, one added later) is logged
and acknowledged, 200 ``ignored``, with nothing done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Final

import msgspec
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from rempart.events import UtcTime
from rempart.guard.decision import ActionKind
from rempart.response.record import Trigger
from rempart.response.webhook import SIGNATURE_HEADER, WebhookReceiver
from rempart.secret import Secret
from rempart.testbed.portal.restrictions import BanGate

if TYPE_CHECKING:
    from rempart.testbed.portal.app import Portal

__all__ = ["MAX_BODY_BYTES", "WEBHOOK_PATH", "WebhookAction", "carry_out", "install"]

_log = structlog.get_logger(__name__)

WEBHOOK_PATH: Final = "/rempart/webhook"
MAX_BODY_BYTES: Final = 4096
"""The largest body read: an action is about 200 bytes, and every field of it is bounded."""


class WebhookAction(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One action as Rempart posts it: the ledger record's id, what, against whom, until when."""

    id: Annotated[int, msgspec.Meta(ge=1)]
    action: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    target: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    until: UtcTime | None
    trigger: Trigger
    time: UtcTime


_DECODER: Final = msgspec.json.Decoder(WebhookAction)


def carry_out(portal: Portal, message: WebhookAction) -> bool:
    """Do what ``message`` asks of ``portal``; False for an action the portal does not act on.

    ValueError when a ban or unban names neither an address nor a prefix
    (nothing is changed then).
    """
    restrictions = portal.restrictions
    restrictions.sweep(portal.clock())
    match message.action:
        case ActionKind.REVOKE_SESSION:
            portal.revoke(message.target)
        case ActionKind.LOCK_ACCOUNT:
            restrictions.lock(message.target, message.until)
            portal.revoke_account(message.target)
        case ActionKind.BAN_ADDRESS:
            restrictions.ban(message.target, message.until)
        case "unlock_account":
            restrictions.unlock(message.target)
        case "unban":
            restrictions.unban(message.target)
        case _:
            return False
    return True


async def _bounded_body(request: Request) -> bytes | None:
    """The body, or None as soon as it is known to be longer than `MAX_BODY_BYTES`."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def install(app: FastAPI, portal: Portal, secret: Secret) -> None:
    """Add the webhook endpoint and the ban gate to ``app``, for posts signed with ``secret``.

    ConfigError when ``secret`` is shorter than Rempart accepts.
    """
    receiver = WebhookReceiver(secret, clock=portal.clock)

    @app.post(WEBHOOK_PATH)
    async def rempart_webhook(request: Request) -> Response:
        body = await _bounded_body(request)
        if body is None:
            return JSONResponse({"error": "too_large"}, status_code=413)
        if not receiver.accept(body, request.headers.get(SIGNATURE_HEADER)):
            _log.warning("webhook_refused")
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        try:
            message = _DECODER.decode(body)
            applied = carry_out(portal, message)
        except (msgspec.DecodeError, ValueError):
            # Signed by Rempart yet unreadable: a sender bug, never echoed back.
            _log.warning("webhook_invalid_payload")
            return JSONResponse({"error": "invalid_payload"}, status_code=422)
        if not applied:
            _log.info("webhook_action_ignored", action=message.action, record=message.id)
            return JSONResponse({"status": "ignored"})
        _log.info("webhook_action_applied", action=message.action, record=message.id)
        return JSONResponse({"status": "applied"})

    app.add_middleware(
        BanGate,
        restrictions=portal.restrictions,
        address=portal.address,
        clock=portal.clock,
        exempt=frozenset({WEBHOOK_PATH}),
    )
