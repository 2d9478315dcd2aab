"""The decision API: FastAPI over the guard, with API keys, metrics and JSON logs.

`create_app` builds the ASGI app; `serve` runs it with uvicorn (what
``rempart serve`` calls).
"""

from rempart.service.api import create_app
from rempart.service.keys import ApiKey, ApiKeys
from rempart.service.server import serve

__all__ = ["ApiKey", "ApiKeys", "create_app", "serve"]
