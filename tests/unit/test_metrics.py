"""The request metrics, counted as plain numbers, read exactly as prometheus_client's own Counter and Histogram."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from gateway.metrics import _LATENCY_BUCKETS, Metrics


def _samples(text: str, prefix: str) -> list[str]:
    return sorted(line for line in text.splitlines() if line.startswith(prefix) and "_created" not in line)


def test_request_metrics_match_prometheus_clients_counter_and_histogram() -> None:
    ours = Metrics()
    registry = CollectorRegistry()
    counter = Counter("scopegate_requests_total", "x", ["route", "decision", "status"], registry=registry)
    histogram = Histogram(
        "scopegate_request_duration_seconds", "x", ["decision"], buckets=_LATENCY_BUCKETS, registry=registry
    )
    rng = random.Random(7)
    # every bucket bound exactly (`le` is inclusive), just above and below it, and beyond the last one
    latencies = [*_LATENCY_BUCKETS, *(b * 1.0001 for b in _LATENCY_BUCKETS), 0.0, 20.0]
    latencies += [rng.uniform(0, 12) for _ in range(500)]
    for seconds in latencies:
        route = rng.choice(["events.list", "-", "contacts.read"])
        decision = rng.choice(["allow", "deny", "error"])
        status = rng.choice([200, 401, 403, 502])
        ours.observe_request(route, decision, status, seconds)
        counter.labels(route, decision, str(status)).inc()
        histogram.labels(decision).observe(seconds)
    mine, theirs = generate_latest(ours.registry).decode(), generate_latest(registry).decode()
    for prefix in ("scopegate_requests_total", "scopegate_request_duration_seconds_"):
        got, want = _samples(mine, prefix), _samples(theirs, prefix)
        assert got and len(got) == len(want)
        for g, w in zip(got, want, strict=True):  # same series, same counts; sums equal to rounding
            g_name, g_value = g.rsplit(" ", 1)
            w_name, w_value = w.rsplit(" ", 1)
            assert g_name == w_name
            assert abs(float(g_value) - float(w_value)) < 1e-9 * max(1.0, float(w_value))
    assert "# TYPE scopegate_requests_total counter" in mine
    assert "# TYPE scopegate_request_duration_seconds histogram" in mine
