"""A tiny world for decision-API tests: one Paris pharmacy, two pharmacists, a fixed clock."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import redis
from argon2 import PasswordHasher
from fastapi import FastAPI

from rempart.directory import Account, OpeningInterval, Profession, Site, SiteKind
from rempart.guard import Guard, Knowledge
from rempart.service import ApiKeys, create_app
from rempart.service.keys import SCOPES
from rempart.service.limits import RequestLimits
from rempart.service.throttle import FailureThrottle
from rempart.stores.memory import MemoryStore
from rempart.testbed.geography import network_table
from rempart.testing import make_event, pseudonym_for

T0 = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)  # a Tuesday, 10:00 in Paris
HOME = "90.12.34.56"  # Orange, a French fixed line
NIR = "253072B07300470"  # a valid NIR, never to be logged
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


def knowledge() -> Knowledge:
    """Two pharmacists at one Paris pharmacy open 07:00-22:00 every day."""
    site = Site(
        site="S1",
        kind=SiteKind.PHARMACY,
        department="75",
        commune="75056",
        timezone="Europe/Paris",
        hours=tuple(OpeningInterval(weekday=day, opens=420, closes=1320) for day in range(7)),
    )
    accounts = {
        name: Account(account=name, profession=Profession.PHARMACIST, site="S1")
        for name in ("A1", "A2")
    }
    return Knowledge(accounts=accounts, sites={"S1": site}, networks=network_table())


class Service:
    """A decision API over a fresh guard, with one valid key and its log captured.

    The key has every scope. The clock stands at `T0` while `Portal` moves on a
    minute an event, so events may be up to a day ahead of it; and the many
    wrong keys the tests send from one address are not throttled.
    """

    def __init__(self, store: Any = None, **options: Any) -> None:
        self.guard = Guard(knowledge(), store if store is not None else MemoryStore())
        self.keys = ApiKeys(hasher=FAST_HASHER)
        self.key_id, key = self.keys.generate("tests", scopes=SCOPES)
        self.key = key.reveal().decode()
        self.logs = io.StringIO()
        options.setdefault("clock", lambda: T0)
        options.setdefault("limits", RequestLimits(max_clock_skew=86_400.0))
        options.setdefault("throttle", FailureThrottle(limit=100_000))
        self.app: FastAPI = create_app(self.guard, self.keys, log_stream=self.logs, **options)

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header with the valid key."""
        return {"Authorization": f"Bearer {self.key}"}

    def client(self) -> Client:
        """A client sending the valid key."""
        return Client(self.app, self.headers)

    def log_lines(self) -> list[dict[str, Any]]:
        """Every log line so far, parsed."""
        return [json.loads(line) for line in self.logs.getvalue().splitlines()]


class Client:
    """A synchronous in-process HTTP client over httpx's ASGI transport.

    (Starlette's TestClient warns about its httpx backend, and warnings are errors here.)
    """

    def __init__(self, app: FastAPI, headers: dict[str, str] | None = None) -> None:
        self.app = app
        self.headers = headers or {}

    def request(self, method: str, url: str, **options: Any) -> httpx.Response:
        """Send one request to the app and return its response."""
        options["headers"] = {**self.headers, **options.get("headers", {})}

        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://rempart") as client:
                return await client.request(method, url, **options)

        return asyncio.run(send())

    def get(self, url: str, **options: Any) -> httpx.Response:
        """GET ``url``."""
        return self.request("GET", url, **options)

    def post(self, url: str, **options: Any) -> httpx.Response:
        """POST ``url``."""
        return self.request("POST", url, **options)


class Portal:
    """Events at increasing times for account A1, as JSON bodies for the API."""

    def __init__(self) -> None:
        self.now = T0
        self.count = 0
        self.subjects = 0

    def event(self, gap: float = 60.0, **fields: Any) -> dict[str, Any]:
        """A new event ``gap`` seconds after the previous one, as a JSON-ready dict."""
        self.now += timedelta(seconds=gap)
        self.count += 1
        fields.setdefault("account", "A1")
        fields.setdefault("ip", HOME)
        fields.setdefault("session", "s1")
        return make_event(time=self.now, event_id=f"ev{self.count:06d}", **fields).to_dict()

    def login(self, **fields: Any) -> dict[str, Any]:
        """A successful login."""
        return self.event(kind="login_success", **fields)

    def read(self, subject: str | None = None, **fields: Any) -> dict[str, Any]:
        """A read of a new patient (or of ``subject``)."""
        if subject is None:
            self.subjects += 1
            subject = pseudonym_for(self.subjects)
        return self.event(subject=subject, **fields)


class BrokenStore(MemoryStore):
    """A memory store that raises Redis' ConnectionError on every call once ``broken``."""

    broken = False

    def _fail(self) -> None:
        if self.broken:
            raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379.")

    def add_counts(self, *args: Any, **kwargs: Any) -> tuple[float, ...]:
        self._fail()
        return super().add_counts(*args, **kwargs)

    def counts(self, *args: Any, **kwargs: Any) -> tuple[float, ...]:
        self._fail()
        return super().counts(*args, **kwargs)

    def add_member(self, *args: Any, **kwargs: Any) -> bool:
        self._fail()
        return super().add_member(*args, **kwargs)

    def has_member(self, *args: Any, **kwargs: Any) -> bool:
        self._fail()
        return super().has_member(*args, **kwargs)

    def get(self, *args: Any, **kwargs: Any) -> Any:
        self._fail()
        return super().get(*args, **kwargs)

    def put(self, *args: Any, **kwargs: Any) -> None:
        self._fail()
        super().put(*args, **kwargs)
