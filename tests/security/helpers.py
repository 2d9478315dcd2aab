"""Small helpers shared by the security regression tests."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from tests.service.world import Service

__all__ = ["limited", "raw_post"]


def limited(service: Service, limit: str) -> float:
    """How many requests ``service`` refused for ``limit``, from its own /metrics."""
    text = service.client().get("/metrics").text
    found = re.search(rf'^rempart_limited_requests_total\{{limit="{limit}"\}} (\S+)$', text, re.M)
    assert found is not None, text
    return float(found.group(1))


def raw_post(
    app: Any,
    path: str,
    headers: list[tuple[bytes, bytes]],
    chunks: list[bytes],
    client: tuple[str, int] = ("127.0.0.1", 50_000),
) -> tuple[int, int]:
    """POST ``path`` straight to the ASGI ``app`` with raw headers, the body in ``chunks``;
    the status answered and how many chunks the app read (below the HTTP server, so that a
    declared ``Content-Length`` need not match the body)."""
    read = 0
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read < len(chunks):
            read += 1
            return {"type": "http.request", "body": chunks[read - 1], "more_body": True}
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": client,
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], read
