"""The gateway's Prometheus metrics (``/metrics``), one registry per process."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.submissions = Counter(
            "khoyte_submissions_total",
            "Submissions answered with a receipt",
            ["status", "duplicate"],
            registry=self.registry,
        )
        self.records = Counter(
            "khoyte_records_total", "Records received", ["status"], registry=self.registry
        )
        self.refused = Counter(
            "khoyte_intake_refused_total",
            "Submissions refused before storing (4xx/5xx)",
            ["code"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "khoyte_submission_seconds",
            "Time to answer a submission",
            registry=self.registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.body = Histogram(
            "khoyte_submission_bytes",
            "Size of submitted files",
            registry=self.registry,
            buckets=(1e3, 1e4, 1e5, 1e6, 1e7, 5e7),
        )
