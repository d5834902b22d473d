"""The gateway's Prometheus series (GET /metrics), in a registry of its own.

Counters are per process (scrape every replica); the day's spend and the budget come from Redis, so
every process reports the shared total.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass
class GatewayMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.requests = Counter(
            "gateway_requests",
            "Requests by API key, group asked for and outcome",
            ["key", "group", "status"],
            registry=r,
        )
        self.served = Counter(
            "gateway_served", "Answers by the deployment that gave them", ["group", "deployment"], registry=r
        )
        self.cache_hits = Counter("gateway_cache_hits", "Answers served from the Redis cache", ["group"], registry=r)
        self.fallbacks = Counter(
            "gateway_fallbacks",
            "Answers from another group than the one routed to",
            ["from_group", "to_group"],
            registry=r,
        )
        self.tokens = Counter(
            "gateway_tokens", "Tokens by key, deployment and kind", ["key", "deployment", "kind"], registry=r
        )
        self.cost = Counter("gateway_cost_usd", "Spend in USD by key and deployment", ["key", "deployment"], registry=r)
        self.rate_limited = Counter(
            "gateway_rate_limited", "Requests refused by a per-key limit", ["key", "limit"], registry=r
        )
        self.redactions = Counter("gateway_redactions", "Masked personal data by kind", ["kind"], registry=r)
        self.routes = Counter("gateway_routes", "Routing decisions by reason", ["group", "reason"], registry=r)
        self.latency = Histogram(
            "gateway_request_seconds",
            "Request time in the gateway",
            ["group", "stream"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.spend_today = Gauge("gateway_spend_today_usd", "Spend of the day so far (UTC, every process)", registry=r)
        self.daily_budget = Gauge("gateway_daily_budget_usd", "gateway.budget.daily_usd", registry=r)
        self.budget_exceeded = Gauge("gateway_budget_exceeded", "1 once the day's spend reaches the budget", registry=r)

    def exposition(self) -> bytes:
        return bytes(generate_latest(self.registry))
