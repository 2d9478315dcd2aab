"""Prometheus metrics of the decision API, in a registry of their own (no global state).

>>> metrics = ServiceMetrics()
>>> metrics.decided("challenge", 0.000_042)
>>> b'rempart_decisions_total{verdict="challenge"} 1.0' in metrics.exposition()[0]
True
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from rempart.guard.decision import Verdict
from rempart.service.limits import LIMITS

__all__ = ["DECIDE_BUCKETS", "ServiceMetrics"]

DECIDE_BUCKETS: Final = (
    *(1e-6, 2.5e-6, 5e-6),
    *(1e-5, 2.5e-5, 5e-5),
    *(1e-4, 2.5e-4, 5e-4),
    *(1e-3, 2.5e-3, 5e-3),
    *(1e-2, 2.5e-2, 5e-2),
    *(0.1, 0.25, 1.0),
)
"""Seconds per guard decision: in-process decisions take microseconds, Redis round trips
milliseconds."""


class ServiceMetrics:
    """Decisions by verdict and latency, refused requests and failures, for one app.

    Requests refused by a limit (`rempart.service.limits`) count in
    ``rempart_limited_requests_total{limit}``; those answered 422 also in
    ``rempart_rejected_requests_total``. Failed authentications count by
    reason: ``missing`` or ``wrong`` key, ``throttled`` (429), ``scope`` and
    ``bouncer_key`` (403).

    Pass a ``registry`` to expose them next to other metrics; by default each
    app has its own, so two apps (or two tests) never share counts.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        self.decisions = Counter(
            "rempart_decisions",
            "Decisions answered, by verdict (fallbacks on store errors included).",
            ["verdict"],
            registry=self.registry,
        )
        for verdict in Verdict:
            self.decisions.labels(verdict=verdict.value)  # present at 0 from the start
        self.decide_seconds = Histogram(
            "rempart_decide_seconds",
            "Time the guard took to decide on one event (store round trips included).",
            buckets=DECIDE_BUCKETS,
            registry=self.registry,
        )
        self.rejected = Counter(
            "rempart_rejected_requests",
            "Requests refused as invalid (HTTP 422): bad events, evidence or parameters.",
            registry=self.registry,
        )
        self.store_errors = Counter(
            "rempart_store_errors",
            "Calls to the guard that failed because its state store did not answer.",
            registry=self.registry,
        )
        self.limited = Counter(
            "rempart_limited_requests",
            "Requests refused for going past a limit (HTTP 413 or 422), by limit.",
            ["limit"],
            registry=self.registry,
        )
        for limit in LIMITS:
            self.limited.labels(limit=limit)
        self.auth_failures = Counter(
            "rempart_auth_failures",
            "Requests refused for their key (HTTP 401, 403 or 429), by reason.",
            ["reason"],
            registry=self.registry,
        )
        for reason in ("missing", "wrong", "throttled", "scope", "bouncer_key"):
            self.auth_failures.labels(reason=reason)
        self.internal_errors = Counter(
            "rempart_internal_errors",
            "Requests the service failed to answer (HTTP 500).",
            registry=self.registry,
        )

    def decided(self, verdict: str, seconds: float | None) -> None:
        """Count one decision; ``seconds`` is None for a fallback the guard did not time."""
        self.decisions.labels(verdict=verdict).inc()
        if seconds is not None:
            self.decide_seconds.observe(seconds)

    def exposition(self) -> tuple[bytes, str]:
        """The metrics in Prometheus' text format, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
