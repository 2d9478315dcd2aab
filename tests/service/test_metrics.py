"""Prometheus metrics of the decision API: decisions by verdict, latency, store errors."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from rempart.service.metrics import DECIDE_BUCKETS

from .world import Portal, Service


def _value(metrics: str, name: str) -> float:
    """The value of the sample line ``name`` in a text exposition."""
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not exposed")


def test_decisions_are_counted_by_verdict_and_timed() -> None:
    """Eleven allows and a challenge show as such, and the histogram counts twelve decisions."""
    service, portal = Service(), Portal()
    client = service.client()
    client.post("/v1/decide", json=portal.login())
    client.post("/v1/decide/batch", json=[portal.read(gap=300) for _ in range(11)])
    metrics = client.get("/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert _value(text, 'rempart_decisions_total{verdict="allow"}') == 11
    assert _value(text, 'rempart_decisions_total{verdict="challenge"}') == 1
    assert _value(text, 'rempart_decisions_total{verdict="deny"}') == 0
    assert _value(text, "rempart_decide_seconds_count") == 12
    assert _value(text, "rempart_store_errors_total") == 0


def test_each_app_counts_alone_unless_given_a_registry() -> None:
    """Two apps never share counts; a caller's registry receives the API's metrics."""
    registry = CollectorRegistry()
    shared, alone = Service(registry=registry), Service()
    shared.client().post("/v1/decide", json=Portal().login())
    assert registry.get_sample_value("rempart_decisions_total", {"verdict": "allow"}) == 1
    assert 'rempart_decisions_total{verdict="allow"} 0.0' in alone.client().get("/metrics").text


def test_latency_buckets_span_microseconds_to_a_second() -> None:
    """The buckets start at a microsecond, end at a second, and increase."""
    assert DECIDE_BUCKETS[0] == 1e-6
    assert DECIDE_BUCKETS[-1] == 1.0
    assert list(DECIDE_BUCKETS) == sorted(set(DECIDE_BUCKETS))
