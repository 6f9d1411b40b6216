"""Prometheus metrics for the served prompt, in a registry of the app's own.

Labels are bounded sets only (prompt name@version, HTTP status, error kind, label, arm):
never a request id or an input. Latency buckets reach 120 s: with the client default's 10 s
top bucket every slow LLM call would collapse into +Inf. Percentiles for an SLO are best
computed exactly from the request log; `histogram_quantile` interpolates within buckets.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 90, 120)


class ServeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "promptops_requests",
            "Prediction requests by outcome.",
            ["prompt", "status"],
            registry=r,
        )
        self.duration = Histogram(
            "promptops_request_duration_seconds",
            "Time to answer a prediction request.",
            ["prompt"],
            buckets=BUCKETS_S,
            registry=r,
        )
        self.upstream_errors = Counter(
            "promptops_upstream_errors", "Model calls that failed, by kind.", ["kind"], registry=r
        )
        self.predictions = Counter(
            "promptops_predictions", "Answered labels.", ["prompt", "label"], registry=r
        )
        self.tokens = Counter("promptops_tokens", "Tokens spent.", ["prompt", "kind"], registry=r)
        self.cost = Counter("promptops_cost_usd", "Spend in USD.", ["prompt"], registry=r)
        self.fallbacks = Counter(
            "promptops_fallbacks", "Answers given by the fallback baseline.", ["prompt"], registry=r
        )
        self.candidate = Counter(
            "promptops_candidate_requests",
            "Candidate (shadow or canary) calls by outcome.",
            ["arm", "status"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
