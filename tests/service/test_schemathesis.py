"""Schemathesis over the decision API's own OpenAPI document: no check finds a failure."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from rempart.service.limits import RequestLimits

from .world import Service

# Generated events carry any time at all, and the document cannot say "near the server's
# clock": the event-time limit is off here (tests/security/test_time.py pins it).
SERVICE = Service(limits=RequestLimits(max_clock_skew=None))
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", SERVICE.app, headers=SERVICE.headers)


@pytest.mark.slow
@SCHEMA.parametrize()
@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_openapi_document(case: schemathesis.Case[Any]) -> None:
    """Every generated request, valid or not, gets a documented, schema-conformant answer."""
    case.call_and_validate(headers=SERVICE.headers)
