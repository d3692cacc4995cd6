"""Prometheus metrics, one registry per running gateway (so tests can build many apps in one process)."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "scopegate_requests_total",
            "Requests by route id, decision and status",
            ["route", "decision", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "scopegate_request_duration_seconds",
            "Time from request to response headers (proxied: to upstream response headers)",
            ["decision"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.redis_errors = Counter(
            "scopegate_redis_errors_total",
            "Store calls that failed (Redis unreachable or slow)",
            registry=self.registry,
        )
        self.redis_latency = Histogram(
            "scopegate_redis_ping_seconds",
            "Redis round-trip time measured by readiness checks",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.revocation_propagation = Histogram(
            "scopegate_revocation_propagation_seconds",
            "Delay between a revocation being published and this process dropping what it affects",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
        # Resolving label values to a child costs a lookup and a lock per call; requests repeat a few combinations.
        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.subscribed = Gauge(
            "scopegate_revocation_subscribed",
            "1 while the revocation subscription is proven live: a beat published "
            "through the write path came back within redis.subscription_timeout (cache trusted)",
            registry=self.registry,
        )
        self.subscription_lost = Counter(
            "scopegate_revocation_subscription_lost_total",
            "Times the revocation subscription went down (stalled, "
            "silent or disconnected); each time every cached fact was dropped",
            registry=self.registry,
        )

    def observe_request(self, route: str, decision: str, status: int, seconds: float) -> None:
        key = (route, decision, status)
        children = self._request_children.get(key)
        if children is None:
            children = (self.requests.labels(route, decision, str(status)), self.latency.labels(decision))
            if len(self._request_children) < 10_000:  # route ids and statuses are few; never grow without bound
                self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)


def exposition(metrics: Metrics) -> web.Response:
    """The registry in Prometheus' text format (the admin listener's /metrics and the metrics listener's)."""
    return web.Response(body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_metrics_app(metrics: Metrics) -> web.Application:
    """The optional metrics listener (`metrics_listen`): GET /metrics and nothing else, no token.

    It exists so Prometheus can scrape from outside a container or pod while the admin API stays on loopback; it
    exposes only the counters above (route ids, decisions, statuses), never an application, user or token.
    """

    async def handler(request: web.Request) -> web.Response:
        return exposition(metrics)

    app = web.Application(client_max_size=1024)
    app.router.add_get("/metrics", handler)
    return app
