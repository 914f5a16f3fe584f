"""The admin home at a glance: each source's last fetch and whether it is late, the digest
queue, and the last 30 days as charts. Reads only, each an aggregate or a single indexed
row (never a scan of subscribers or digests); the actions ("fetch now", "send due digests
now") live in alerts.sites with the views that call them."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Min, Q
from django_celery_beat.models import PeriodicTask

from alerts.charts import Series, bar_chart
from alerts.digests.daily_counts import METRICS, daily_counts
from alerts.models import Digest, FetchRun, Paper
from alerts.schedule_words import schedule_in_words

FETCH_TASK = "alerts.tasks.fetch_papers_task"
DISPATCH_TASK = "alerts.tasks.dispatch_due_digests"
# A scheduled fetch counts as late when no successful run followed its due time within
# this long (the task's own retries with back-off take up to about an hour).
LATE_AFTER = dt.timedelta(hours=2)
CHART_DAYS = 30


@dataclass(frozen=True)
class SourceStatus:
    source: str
    label: str
    last: FetchRun | None  # the latest run, whatever its outcome
    last_ok: FetchRun | None
    schedule: str  # in plain words; empty when the source is not fetched on a schedule
    next_due: dt.datetime | None  # the first scheduled run after the last successful one
    late: bool
    can_fetch_now: bool


@dataclass(frozen=True)
class QueueStatus:
    pending: int
    sending: int
    oldest: dt.datetime | None  # when the oldest waiting digest was created


def _next_due(task: PeriodicTask, after: dt.datetime) -> dt.datetime:
    schedule = task.schedule
    if task.crontab is not None:
        start, delta, _ = schedule.remaining_delta(after)
        return start + delta
    return after + schedule.run_every


def fetch_schedules() -> dict[str, PeriodicTask]:
    """The enabled fetch schedule of each source, by source (`{"source": ...}` kwargs)."""
    tasks = PeriodicTask.objects.filter(task=FETCH_TASK, enabled=True).select_related(
        "crontab", "interval", "solar", "clocked"
    )
    found = {}
    for task in tasks:
        try:
            source = json.loads(task.kwargs or "{}").get("source")
        except ValueError:
            continue
        if source:
            found.setdefault(source, task)
    return found


def fetchable_sources() -> list[str]:
    """The sources "fetch now" offers: the arXiv listings, Hugging Face, and the extra feeds
    when there are any (the API is for back-fills, asked for with a query); none offline."""
    if settings.OFFLINE_DEMO:
        return []  # an offline demo requests nothing from the network
    sources = [Paper.Source.ARXIV_RSS, Paper.Source.HF_DAILY]
    if settings.EXTRA_FEEDS:
        sources.append(Paper.Source.FEED)
    return [str(source) for source in sources]


def sources_status(*, now: dt.datetime) -> list[SourceStatus]:
    """Every source, with its latest run, its latest successful run and its schedule."""
    schedules = fetch_schedules()
    fetchable = fetchable_sources()
    out = []
    for source, label in Paper.Source.choices:
        runs = FetchRun.objects.filter(source=source)
        last = runs.first()
        last_ok = last if last and last.status == FetchRun.Status.OK else runs.filter(status="ok").first()
        task = schedules.get(source)
        next_due = _next_due(task, last_ok.started_at) if task and last_ok else None
        late = (
            bool(task)
            and not settings.OFFLINE_DEMO
            and (
                (next_due is not None and now > next_due + LATE_AFTER)
                or (last_ok is None and last is not None and last.status == FetchRun.Status.FAILED)
            )
        )
        out.append(
            SourceStatus(
                source=source,
                label=label,
                last=last,
                last_ok=last_ok,
                schedule=schedule_in_words(task) if task else "",
                next_due=next_due,
                late=late,
                can_fetch_now=source in fetchable,
            )
        )
    return out


def queue_status() -> QueueStatus:
    """Digests waiting to be sent, and how old the oldest is: one aggregate query."""
    sending = Q(status=Digest.Status.SENDING)
    waiting = Digest.objects.filter(status__in=(Digest.Status.PENDING, Digest.Status.SENDING)).aggregate(
        pending=Count("id", filter=~sending), sending=Count("id", filter=sending), oldest=Min("created_at")
    )
    return QueueStatus(pending=waiting["pending"], sending=waiting["sending"], oldest=waiting["oldest"])


def activity_charts(*, today: dt.date | None = None) -> list[tuple[Series, str]]:
    """The last 30 days, one (series, SVG chart) per metric."""
    counts = daily_counts(days=CHART_DAYS, today=today)
    charts = []
    for key, label in METRICS:
        series = Series(key=key, label=label, days=counts.days, values=counts.values[key])
        charts.append((series, bar_chart(series)))
    return charts
