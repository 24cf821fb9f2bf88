"""Prometheus metrics: what the app counts, and the text that `/metrics` answers with.

Counted where it happens, cheaply: requests by route template (never the raw path, which
holds ids) and status, and their latency, in the edge (app/web/edge.py); job outcomes in the
job runner; webhook deliveries in and out; rows written by syncs. Read at scrape time: the job
queues' depth (from the catalog) and the tenant engine cache's size. No label ever carries an
email, a token or an id: routes are templates, the rest are names from code.

Several server processes: set PROMETHEUS_MULTIPROC_DIR (an empty directory shared by them)
before they start. prometheus-client then keeps every process's values in files there, and
`/metrics` from any process reports their sum (gauges: of the live processes).
"""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED = "unmatched"  # requests no route took: one label value, whatever their path

REQUESTS = Counter("http_requests_total", "HTTP requests answered", ["route", "method", "status"])
LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time from the request's arrival to the end of its response",
    ["route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
JOBS = Counter("jobs_finished_total", "Job attempts, by outcome", ["type", "outcome"])
WEBHOOKS_IN = Counter(
    "webhooks_received_total", "Inbound webhook deliveries, by answer", ["source", "status"]
)
WEBHOOKS_OUT = Counter(
    "webhook_deliveries_total", "Outbound webhook attempts, by outcome", ["event", "outcome"]
)
SYNC_ROWS = Counter("sync_rows_total", "Rows written by data syncs", ["kind"])
ENGINES = Gauge(
    "tenant_engines_cached",
    "Tenant database engines held in the cache (summed over live processes)",
    multiprocess_mode="livesum",
)

_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count one answered request. The labelled children are looked up once per
    (route, method, status): a dict hit instead of prometheus-client's locked lookup."""
    key = (route, method, status)
    pair = _children.get(key)
    if pair is None:
        pair = (REQUESTS.labels(route, method, str(status)), LATENCY.labels(route, method))
        _children[key] = pair
    pair[0].inc()
    pair[1].observe(seconds)


class QueueDepth(Collector):
    """Unfinished jobs per queue, read from the catalog when scraped: system jobs from
    sys_jobs, tenant jobs from the due-work index (one entry per unfinished tenant job)."""

    def __init__(self, catalog: Any):
        self.catalog = catalog

    def collect(self):
        depth = GaugeMetricFamily("job_queue_depth", "Unfinished jobs", labels=["queue"])
        system = self.catalog.row(
            "SELECT count(*) AS n FROM sys_jobs WHERE status IN ('pending', 'running')"
        )
        tenant = self.catalog.row("SELECT count(*) AS n FROM sys_due_work WHERE kind = 'job'")
        depth.add_metric(["system"], system["n"])
        depth.add_metric(["tenant"], tenant["n"])
        yield depth


def exposition(catalog: Any, databases: Any) -> bytes:
    """The metrics text for one scrape."""
    ENGINES.set(len(databases))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_Default())
    registry.register(QueueDepth(catalog))
    return generate_latest(registry)


class _Default(Collector):
    """This process's own metrics (the default registry), inside a registry of the scrape."""

    def collect(self):
        yield from REGISTRY.collect()


def process_stopped() -> None:
    """Drop this process's live gauges from the shared directory (multi-process mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.mark_process_dead(os.getpid())
