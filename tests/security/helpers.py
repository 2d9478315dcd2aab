"""Small helpers shared by the security regression tests."""

from __future__ import annotations

import re

from tests.service.world import Service

__all__ = ["limited"]


def limited(service: Service, limit: str) -> float:
    """How many requests ``service`` refused for ``limit``, from its own /metrics."""
    text = service.client().get("/metrics").text
    found = re.search(rf'^rempart_limited_requests_total\{{limit="{limit}"\}} (\S+)$', text, re.M)
    assert found is not None, text
    return float(found.group(1))
