"""Prometheus metrics (prometheus-client). With several uvicorn workers the serve command
sets PROMETHEUS_MULTIPROC_DIR before the workers start, and /metrics adds up all of them."""
from __future__ import annotations

import os
import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

HTTP_REQUESTS = Counter("decision_screen_http_requests_total", "HTTP requests by route and status",
                        ["method", "route", "status"])
HTTP_LATENCY = Histogram("decision_screen_http_request_duration_seconds", "HTTP request latency by route",
                         ["method", "route"],
                         buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0))
SCREENINGS = Counter("decision_screen_screenings_total", "Matters screened, by source and verdict",
                     ["source", "verdict"])
RECORDS_WRITTEN = Counter("decision_screen_records_written_total", "Screening records committed by the writer")
RECORD_WRITE_ERRORS = Counter("decision_screen_record_write_errors_total",
                              "Failed attempts to commit a batch of screening records (retried)")
RECORDS_SET_ASIDE = Counter("decision_screen_records_set_aside_total",
                            "Screening records the database refused, kept in var/rejected-records.jsonl instead")
RECORD_QUEUE = Gauge("decision_screen_record_queue_depth", "Screening records waiting to be written",
                     multiprocess_mode="livesum")
JOB_ROWS = Counter("decision_screen_job_rows_total", "Job rows screened")
JOBS_FINISHED = Counter("decision_screen_jobs_finished_total", "Jobs finished, by final status", ["status"])
CALLBACKS = Counter("decision_screen_callbacks_total", "Job-end callback attempts, by outcome", ["outcome"])
FEEDBACK = Counter("decision_screen_feedback_total", "Reviewer feedback recorded", ["agree"])


class JobsCollector:
    """Jobs by status, read from the database at scrape time (true across processes and hosts)."""

    def __init__(self, ctx):
        self.ctx = ctx

    def collect(self):
        from sqlalchemy import func, select

        from .db import jobs

        g = GaugeMetricFamily("decision_screen_jobs", "Jobs in the database, by status", labels=["status"])
        try:
            with self.ctx.db.read() as conn:
                rows = conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status)).all()
        except Exception:
            rows = []
        counts = {"queued": 0, "running": 0, "done": 0, "failed": 0, **{s: n for s, n in rows}}
        for status, n in sorted(counts.items()):
            g.add_metric([status], n)
        yield g
        info = GaugeMetricFamily("decision_screen_model_info", "Model and rules versions in use",
                                 labels=["model_version", "rules_version"])
        info.add_metric([self.ctx.screener.model_version, self.ctx.screener.rules_version], 1)
        yield info


def render(ctx) -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    # The database-backed gauges go in a registry of their own, so that several apps in one
    # process (tests) never register the same metric name twice.
    per_app = CollectorRegistry()
    per_app.register(JobsCollector(ctx))
    return generate_latest(registry) + generate_latest(per_app), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Pure ASGI (no per-request task like BaseHTTPMiddleware): counts and times every request
    by its route template, so /api/v1/jobs/{job_id} is one series, not one per job."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_wrapper(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            HTTP_REQUESTS.labels(method, path, str(status)).inc()
            HTTP_LATENCY.labels(method, path).observe(time.perf_counter() - start)
