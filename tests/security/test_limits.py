"""Issue #9, rows "no request-size limit" and "deeply nested JSON": bodies, batches, lists and
nesting are bounded, refused early with 413 or 422, and counted in the metrics."""

from __future__ import annotations

from typing import Any

import pytest

from rempart.service.limits import RequestLimits
from tests.service.world import Portal, Service

from .helpers import limited, raw_post

POST_ROUTES = ("/v1/decide", "/v1/decide/batch", "/v1/evidence", "/v1/step-up")


def test_a_declared_oversized_body_is_refused_before_it_is_read() -> None:
    """A Content-Length of 100 MB is a 413 without one byte of the body read."""
    service = Service()
    headers = [
        (b"authorization", f"Bearer {service.key}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", b"104857600"),
    ]
    status, read = raw_post(service.app, "/v1/decide", headers, [b"[" * 65_536] * 1_600)
    assert (status, read) == (413, 0)
    assert limited(service, "body_size") == 1.0


def test_a_streamed_oversized_body_is_refused_as_soon_as_it_passes_the_limit() -> None:
    """Without a length, the body is read only until it goes past the limit."""
    service = Service(limits=RequestLimits(max_body_bytes=200_000))
    headers = [(b"authorization", f"Bearer {service.key}".encode())]
    status, read = raw_post(service.app, "/v1/decide", headers, [b" " * 65_536] * 1_600)
    assert status == 413
    assert read == 4  # 262,144 bytes: the first chunk past 200,000


def test_a_body_without_a_key_is_never_read() -> None:
    """A caller without a key gets its 401 before the service reads anything it sent."""
    service = Service()
    status, read = raw_post(service.app, "/v1/decide", [], [b"[" * 65_536] * 1_600)
    assert (status, read) == (401, 0)


@pytest.mark.parametrize("route", POST_ROUTES)
@pytest.mark.parametrize("depth", [497, 5_000, 100_000])
def test_deeply_nested_json_is_a_clean_422(route: str, depth: int) -> None:
    """A few hundred (or a hundred thousand) ``[`` is a 422 ``too_deep``, counted, never a
    500 or a RecursionError."""
    service = Service()
    response = service.client().post(route, content=b"[" * depth + b"]" * depth)
    assert response.status_code == 422
    assert response.json() == {
        "error": "too_deep",
        "message": "JSON nested more than 16 levels deep",
        "field": "$",
    }
    assert limited(service, "json_depth") == 1.0


def test_a_million_categories_cannot_be_sent_and_a_hundred_thousand_are_refused() -> None:
    """One event's list of categories is bounded (32 by default): past the body limit it is
    a 413, within it a 422 naming the field."""
    service = Service()
    event = Portal().read()
    huge = service.client().post("/v1/decide", json={**event, "categories": ["nir"] * 1_000_000})
    assert huge.status_code == 413
    many = service.client().post("/v1/decide", json={**event, "categories": ["nir"] * 100_000})
    assert many.status_code == 422
    assert (many.json()["error"], many.json()["field"]) == ("too_long", "$.categories")
    assert limited(service, "list_length") == 1.0
    batch = service.client().post(
        "/v1/decide/batch", json=[event, {**event, "categories": ["nir"] * 33}]
    )
    assert batch.json()["field"] == "$[1].categories"


def test_the_batch_limit_is_configurable_and_counted() -> None:
    """A batch longer than ``max_batch`` is refused whole, and no event is decided."""
    service = Service(limits=RequestLimits(max_batch=5))
    portal = Portal()
    response = service.client().post("/v1/decide/batch", json=[portal.login() for _ in range(6)])
    assert (response.status_code, response.json()["error"]) == (422, "batch_too_large")
    assert limited(service, "batch_size") == 1.0
    assert not [line for line in service.log_lines() if line["event"] == "decision"]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"kind": "1 85 05 78 006 084 36"}, "$.kind", "Not one of the accepted values"),
        ({"categories": ["185057800608436"]}, "$.categories[0]", "Not one of the accepted values"),
        ({"pwd-185057800608436": 1}, "$", "Object contains an unknown field"),
    ],
)
def test_a_422_never_echoes_the_rejected_value_or_field_name(
    change: dict[str, Any], field: str, message: str
) -> None:
    """A bad enum value or an unknown field name may be a NIR or a secret: the 422 names the
    place, not the text (msgspec's own message quotes it)."""
    service = Service()
    response = service.client().post("/v1/decide", json={**Portal().read(), **change})
    assert response.status_code == 422
    assert response.json() == {"error": "invalid_request", "message": message, "field": field}
    assert "185057800608436" not in response.text.replace(" ", "")


def test_a_content_length_of_non_ascii_digits_is_no_500() -> None:
    """``Content-Length: ²`` (byte 0xB2, a digit to ``str.isdigit`` but not to ``int``) reached
    the size check as a ValueError; it is now read like any unknown length."""
    service = Service()
    headers = [
        (b"authorization", f"Bearer {service.key}".encode()),
        (b"content-type", b"application/json"),
        (b"content-length", b"\xb2"),
    ]
    status, _ = raw_post(service.app, "/v1/decide", headers, [b"{}"])
    assert status == 422
