"""Running the decision API: uvicorn on a host and port, our JSON logs instead of its access log."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

__all__ = ["serve"]


def serve(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8080, **uvicorn: Any) -> None:
    """Serve ``app`` (from `create_app`) until interrupted.

    Uvicorn's access log is off: request lines would carry account ids in
    paths, and the API already logs one JSON line per decision. Any other
    keyword goes to `uvicorn.run` (``workers`` excepted: the guard's memory
    state lives in this process; scale out with a `RedisStore` and more
    processes instead).
    """
    import uvicorn as server

    options: dict[str, Any] = {"access_log": False, "log_level": "warning", **uvicorn}
    server.run(app, host=host, port=port, **options)
