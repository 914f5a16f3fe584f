"""Prometheus metrics, read from the database at scrape time.

Every number is what the rows say when Prometheus asks, whichever process wrote them (a
Celery worker sends the digests, beat's tasks fetch the papers): any web process answers
the same, and nothing is lost when a process restarts. The counters are the kept daily
counts of the admin home's charts (alerts.digests.daily_counts) summed, plus today's
aggregates; the queue and the sources are the cockpit's own selectors (alerts.cockpit).
No query reads rows in proportion to the history (closed days are kept counts; today is
counted from indexes, as the admin home counts it): bench/metrics.py measures a scrape with
a million subscribers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from alerts.cockpit import queue_status, sources_status
from alerts.digests import daily_counts
from alerts.models import Digest

PREFIX = "paper_alerts"
# The latency quantiles are taken over this many of the latest sent digests: a window that
# moves with the traffic, read backwards from the (finished_at, status) index.
LATENCY_WINDOW = 1000
QUANTILES = (0.5, 0.9, 0.99, 1.0)

# (key of the daily counts, metric name, help): the all-time counters without labels.
PLAIN_COUNTERS = (
    ("signups", "signups", "Sign-ups (addresses entered on the form)."),
    ("confirmations", "confirmations", "Subscriptions confirmed."),
    ("unsubscribes", "unsubscribes", "Unsubscribes."),
    ("sent", "digests_sent", "Digests the ESP accepted."),
    ("bounced", "bounces", "Bounces reported by the ESP's webhooks."),
    ("complaints", "complaints", "Spam complaints reported by the ESP's webhooks."),
)


def _quantile(sorted_values: list[float], q: float) -> float:
    """Nearest rank: the smallest value with at least q of the values at or below it."""
    rank = max(1, -(-len(sorted_values) * q // 1))  # ceil, at least the first
    return sorted_values[int(rank) - 1]


def recent_send_latencies(*, limit: int = LATENCY_WINDOW) -> dict[str, list[float]]:
    """Seconds from dispatch (the digest row's creation) and from the worker's claim to the
    ESP's acceptance, for the latest `limit` digests sent: one indexed query."""
    rows = (
        Digest.objects.filter(status=Digest.Status.SENT, finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("created_at", "claimed_at", "sent_at")[:limit]
    )
    spans: dict[str, list[float]] = {"dispatch": [], "claim": []}
    for created, claimed, sent in rows:
        if sent is None:
            continue
        spans["dispatch"].append(max(0.0, (sent - created).total_seconds()))
        if claimed is not None:
            spans["claim"].append(max(0.0, (sent - claimed).total_seconds()))
    return {span: sorted(values) for span, values in spans.items()}


class DatabaseCollector(Collector):
    """The service's metrics, collected from the database on every scrape."""

    def __init__(self, *, now: dt.datetime | None = None) -> None:
        self.now = now  # fixed in tests; the moment of the scrape otherwise

    def collect(self) -> Iterator[Metric]:
        now = self.now or timezone.now()
        yield from self._counters(timezone.localdate(now))
        yield from self._queue(now)
        yield from self._latency()
        yield from self._sources(now)

    def _counters(self, today: dt.date) -> Iterator[Metric]:
        totals = daily_counts.totals(today=today)
        for key, name, documentation in PLAIN_COUNTERS:
            counter = CounterMetricFamily(f"{PREFIX}_{name}", documentation)
            counter.add_metric([], totals[key])
            yield counter
        failed = CounterMetricFamily(
            f"{PREFIX}_digests_failed", "Digests that failed for good, by reason.", labels=["reason"]
        )
        for reason in daily_counts.REASONS:
            failed.add_metric([reason], totals[daily_counts.failed_key(reason)])
        yield failed
        fetched = CounterMetricFamily(
            f"{PREFIX}_papers_fetched", "Papers read from each source (new or updated).", labels=["source"]
        )
        for source in daily_counts.SOURCES:
            fetched.add_metric([source], totals[daily_counts.fetched_key(source)])
        yield fetched

    def _queue(self, now: dt.datetime) -> Iterator[Metric]:
        queue = queue_status()
        yield GaugeMetricFamily(
            f"{PREFIX}_digests_pending", "Digests waiting to be sent.", value=queue.pending
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_digests_sending", "Digests claimed by a worker, being sent.", value=queue.sending
        )
        age = (now - queue.oldest).total_seconds() if queue.oldest else 0.0
        yield GaugeMetricFamily(
            f"{PREFIX}_digest_oldest_pending_age_seconds",
            "Age of the oldest digest waiting or being sent (0 when none is).",
            value=max(0.0, age),
        )

    def _latency(self) -> Iterator[Metric]:
        spans = recent_send_latencies()
        latency = GaugeMetricFamily(
            f"{PREFIX}_digest_send_latency_seconds",
            f"Over the latest {LATENCY_WINDOW} digests sent: seconds to the ESP's acceptance from "
            "dispatch (span=dispatch) or from the worker's claim (span=claim), by quantile "
            "(1 = the slowest).",
            labels=["span", "quantile"],
        )
        for span, values in spans.items():
            for q in QUANTILES:
                if values:
                    latency.add_metric([span, str(q)], _quantile(values, q))
        yield latency
        window = GaugeMetricFamily(
            f"{PREFIX}_digest_send_latency_window", "Digests the latency quantiles were taken over."
        )
        window.add_metric([], len(spans["dispatch"]))
        yield window

    def _sources(self, now: dt.datetime) -> Iterator[Metric]:
        last_ok = GaugeMetricFamily(
            f"{PREFIX}_source_last_success_timestamp_seconds",
            "When the latest successful fetch of each source started (sources never fetched are left out).",
            labels=["source"],
        )
        late = GaugeMetricFamily(
            f"{PREFIX}_source_late",
            "1 when a scheduled source has not been fetched since it was due.",
            labels=["source"],
        )
        for status in sources_status(now=now):
            if status.last_ok is not None:
                last_ok.add_metric([status.source], status.last_ok.started_at.timestamp())
            late.add_metric([status.source], 1.0 if status.late else 0.0)
        yield last_ok
        yield late


def metrics_text(*, now: dt.datetime | None = None) -> bytes:
    """The exposition text of one scrape. A registry of its own: the process's own
    numbers (memory, CPU) differ from one web process to the next, so they are left out."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(now=now))
    return generate_latest(registry)
