"""What the portal refuses on Rempart's word: locked accounts and banned addresses.

Rempart's webhook (`rempart.testbed.portal.webhook`) writes here; the portal
reads. A locked account cannot sign in (its sessions were ended when the
lock arrived) until the lock expires or Rempart lifts it; a request from a
banned address or network is refused before any endpoint runs
(`BanGate`). Expiries are read on the portal's clock.

This book is the portal's own, separate from the guard's: an in-process
guard keeps its locks itself, but a portal talking to a remote
``rempart serve`` only learns of them by webhook.

>>> from datetime import UTC, datetime, timedelta
>>> now = datetime(2022, 3, 8, 9, 0, tzinfo=UTC)
>>> restrictions = Restrictions()
>>> restrictions.lock("A000001", until=None)
>>> restrictions.ban("51.75.3.0/24", until=now + timedelta(hours=1))
>>> restrictions.locked("A000001", now), restrictions.banned("51.75.3.7", now)
(True, True)
>>> restrictions.banned("51.75.3.7", now + timedelta(hours=2))
False
>>> restrictions.unlock("A000001")
>>> restrictions.locked("A000001", now)
False
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import datetime
from typing import Final

from rempart.guard.decision import Decision, Reason, Verdict
from rempart.middleware import ASGIApp, Receive, Scope, Send

__all__ = ["LOCKED", "BanGate", "Restrictions"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network

LOCKED: Final = Decision(
    event_id="",
    verdict=Verdict.DENY,
    reasons=(
        Reason(
            detector="portal",
            code="account_locked",
            message="account locked by Rempart until it lifts the lock",
        ),
    ),
)
"""The portal's refusal of a sign-in to a locked account (the guard's reason code)."""
_BANNED_BODY: Final = b'{"error":"denied","reasons":["address_banned"]}'


def _in_force(until: datetime | None, now: datetime) -> bool:
    return until is None or until > now


class Restrictions:
    """Locked accounts and banned networks, each until a time (None: until lifted).

    Only Rempart writes here, through its signed webhook; expired entries
    are dropped on the next write, so the book holds what is in force plus
    what expired since.
    """

    def __init__(self) -> None:
        self._locks: dict[str, datetime | None] = {}  # account -> until
        self._bans: dict[_Network, datetime | None] = {}  # network -> until

    def lock(self, account: str, until: datetime | None) -> None:
        """Refuse ``account``'s sign-ins until ``until`` (None: until `unlock`)."""
        self._locks[account] = until

    def unlock(self, account: str) -> None:
        """Lift ``account``'s lock (nothing when there is none)."""
        self._locks.pop(account, None)

    def locked(self, account: str, now: datetime) -> bool:
        """Whether ``account`` is locked at ``now``."""
        return account in self._locks and _in_force(self._locks[account], now)

    def ban(self, network: str, until: datetime | None) -> None:
        """Refuse requests from ``network`` (an address or prefix) until ``until``.

        ValueError when ``network`` is neither an address nor a prefix.
        """
        self._bans[ipaddress.ip_network(network, strict=False)] = until

    def unban(self, network: str) -> None:
        """Lift the ban on ``network``, written as it was banned (ValueError when malformed)."""
        self._bans.pop(ipaddress.ip_network(network, strict=False), None)

    def banned(self, address: str, now: datetime) -> bool:
        """Whether ``address`` falls in a network banned at ``now`` (False when malformed)."""
        if not self._bans:
            return False
        try:
            client = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(
            client in network and _in_force(until, now) for network, until in self._bans.items()
        )

    def sweep(self, now: datetime) -> None:
        """Forget the locks and bans expired at ``now``."""
        self._locks = {key: until for key, until in self._locks.items() if _in_force(until, now)}
        self._bans = {key: until for key, until in self._bans.items() if _in_force(until, now)}


class BanGate:
    """Pure ASGI: a request from a banned address gets 403 before any endpoint runs.

    Installed inside `GuardMiddleware`, so a protected read from a banned
    address is still decided and recorded (as a failure): Rempart keeps
    seeing what the address tries. ``address`` resolves the client's address as the portal does
    (`rempart.middleware.ClientAddress`); requests to the ``exempt`` paths
    pass whatever their address (Rempart's own webhook, so that a ban can
    always be lifted).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        restrictions: Restrictions,
        address: Callable[[Scope], str],
        clock: Callable[[], datetime],
        exempt: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.restrictions = restrictions
        self.address = address
        self.clock = clock
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] not in self.exempt
            and self.restrictions.banned(self.address(scope), self.clock())
        ):
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_BANNED_BODY)).encode()),
            ]
            await send({"type": "http.response.start", "status": 403, "headers": headers})
            await send({"type": "http.response.body", "body": _BANNED_BODY})
            return
        await self.app(scope, receive, send)
