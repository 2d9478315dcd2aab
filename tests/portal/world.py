"""The portal under test: a hand-moved clock, an SMTP outbox, and a browser-like client."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher

from rempart.events import Event
from rempart.guard import Guard, Knowledge
from rempart.secret import Secret
from rempart.testbed.portal import Portal, create_portal

SECRET = Secret(b"portal-test-secret-0123456789")
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
T0 = datetime(2022, 3, 8, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Rennes
HOME = "90.12.34.56"  # Orange, a French fixed line
BASE_URL = "http://127.0.0.1"  # loopback: the portal's cookies are not Secure, as over http
BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
"""The client's user agent: a pharmacist's browser (httpx's own would be a scripted client)."""


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)


class Outbox:
    """An aiosmtpd handler keeping every message the server accepted."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 Message accepted for delivery"


class PortalClient:
    """The guarded portal, its state, its audit log and a browser-like client."""

    def __init__(self, world_dir: Path, knowledge: Knowledge, smtp_port: int) -> None:
        self.clock = Clock(T0)
        self.guard = Guard(knowledge)
        self.audit: list[Event] = []
        self.app = create_portal(
            world_dir,
            guard=self.guard,
            smtp_host="127.0.0.1",
            smtp_port=smtp_port,
            secret=SECRET,
            clock=self.clock,
            hasher=FAST_HASHER,
            audit=self.audit.append,
        )
        self.portal: Portal = self.app.app.state.portal  # type: ignore[attr-defined]
        self.cookies = httpx.Cookies()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request from the home address, keeping the session cookie like a browser."""

        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=(HOME, 40_000))
            async with httpx.AsyncClient(
                transport=transport,
                base_url=BASE_URL,
                cookies=self.cookies,
                headers={"User-Agent": BROWSER},
            ) as client:
                response = await client.request(method, path, **kwargs)
                self.cookies = client.cookies
                return response

        return asyncio.run(send())

    def kinds(self) -> list[str]:
        """The audit log's event kinds, in order."""
        return [event.kind.value for event in self.audit]
