"""The service's numbers per day (sign-ups, confirmations, unsubscribes, digests sent and
failed, bounces, complaints, and for /metrics papers fetched per source and failures per
reason), for the admin home's charts and the Prometheus counters.

A day that is over is counted once, by a GROUP BY over that day's rows, and kept as
`DailyCount` rows: its rows never change afterwards (every timestamp counted is the moment
something happened), and the charts then read 30 small rows instead of a month of digests.
Today is counted live. Days are local days of TIME_ZONE.

The kept days are also what lets old rows go (alerts.digests.retention): every closed day
is counted before any of its rows is pruned, so the charts and the all-time totals of
/metrics stay the same.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from alerts.models import DailyCount, DeliveryEvent, Digest, FetchRun, Paper
from subscribers.models import SubscriberEvent

Kind = SubscriberEvent.Kind

# (key, label), in the order the admin home shows them.
METRICS: tuple[tuple[str, str], ...] = (
    ("signups", "Sign-ups"),
    ("confirmations", "Confirmations"),
    ("unsubscribes", "Unsubscribes"),
    ("sent", "Digests sent"),
    ("failed", "Digests failed"),
    ("bounced", "Bounces"),
    ("complaints", "Complaints"),
)
CHART_KEYS = tuple(key for key, _ in METRICS)
# Why a digest failed for good, read from the start of its last_error (the texts of
# alerts.core.mailerrors and alerts.digests.recovery): a few fixed labels, so that a
# Prometheus series never multiplies with the ESP's wording.
FAILURE_REASONS: tuple[tuple[str, Q], ...] = (
    ("gave_up", Q(last_error__startswith="gave up") | Q(last_error__contains="[gave up")),
    ("refused", Q(last_error__startswith="recipient refused") | Q(last_error__startswith="SMTP refused")),
    ("rejected", Q(last_error__startswith="ESP answered") | Q(last_error__startswith="SMTP ")),
    ("not_receiving", Q(last_error__startswith="subscriber no longer receives")),
)
REASONS = (*(reason for reason, _ in FAILURE_REASONS), "other")
SOURCES = tuple(str(source) for source in Paper.Source.values)


def fetched_key(source: str) -> str:
    return "fetched_" + source.replace("-", "_")


def failed_key(reason: str) -> str:
    return "failed_" + reason


# Every number kept per day: the charts' and the counters' of /metrics.
KEYS = CHART_KEYS + tuple(fetched_key(s) for s in SOURCES) + tuple(failed_key(r) for r in REASONS)


@dataclass(frozen=True)
class DailyCounts:
    days: list[dt.date]  # oldest first, today last
    values: dict[str, list[int]]  # metric key -> one number per day


def start_of_day(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def _grouped(queryset, field: str, since: dt.datetime, **counts) -> dict[dt.date, dict[str, int]]:
    rows = (
        queryset.filter(**{f"{field}__gte": since})
        .annotate(day=TruncDate(field))
        .order_by()
        .values("day")
        .annotate(**counts)
    )
    return {row.pop("day"): row for row in rows}


def _failure_reasons() -> dict[str, Count]:
    """One count per reason; each reason takes only what no reason before it took."""
    counts, taken = {}, Q(pk__in=[])
    for reason, condition in FAILURE_REASONS:
        counts[failed_key(reason)] = Count("id", filter=condition & ~taken)
        taken |= condition
    counts[failed_key("other")] = Count("id", filter=~taken)
    return counts


def count_since(since: dt.datetime, *, charts_only: bool = False) -> dict[dt.date, dict[str, int]]:
    """Every metric per day from `since` on: one aggregate query per table (the charts'
    three tables only, with `charts_only`)."""
    by_day: dict[dt.date, dict[str, int]] = {}
    parts = [
        _grouped(
            SubscriberEvent.objects,
            "created_at",
            since,
            signups=Count("id", filter=Q(kind=Kind.CREATED)),
            confirmations=Count("id", filter=Q(kind=Kind.CONFIRMED)),
            unsubscribes=Count("id", filter=Q(kind=Kind.UNSUBSCRIBED)),
        ),
        # Counting the status, not the id, lets PostgreSQL answer from the (finished_at,
        # status) index alone: a million digests a day are never read from the table.
        _grouped(
            Digest.objects.filter(status__in=(Digest.Status.SENT, Digest.Status.FAILED)),
            "finished_at",
            since,
            sent=Count("status", filter=Q(status=Digest.Status.SENT)),
            failed=Count("status", filter=Q(status=Digest.Status.FAILED)),
        ),
        _grouped(
            DeliveryEvent.objects.filter(event_type__in=("bounced", "complained")),
            "received_at",
            since,
            bounced=Count("id", filter=Q(event_type="bounced")),
            complaints=Count("id", filter=Q(event_type="complained")),
        ),
    ]
    if not charts_only:
        parts += [
            # Failed digests are few: reading their last_error costs little next to the sent.
            _grouped(
                Digest.objects.filter(status=Digest.Status.FAILED), "finished_at", since, **_failure_reasons()
            ),
            # A run is counted on the day it finished, when its numbers are final.
            _grouped(
                FetchRun.objects.filter(finished_at__isnull=False),
                "finished_at",
                since,
                **{fetched_key(s): Coalesce(Sum("fetched", filter=Q(source=s)), 0) for s in SOURCES},
            ),
        ]
    for part in parts:
        for day, numbers in part.items():
            by_day.setdefault(day, {}).update(numbers)
    return by_day


def _complete_days(first: dt.date, before: dt.date) -> set[dt.date]:
    """The days in [first, before) that have every number kept."""
    rows = (
        DailyCount.objects.filter(day__gte=first, day__lt=before)
        .values("day")
        .annotate(n=Count("id"))
        .filter(n=len(KEYS))
        .values_list("day", flat=True)
    )
    return set(rows)


def _keep(missing: list[dt.date], *, today: dt.date) -> dict[dt.date, dict[str, int]]:
    """Count the closed days `missing` (one query per table for all of them) and keep
    their numbers; returns what was counted from the first of them up to today (today
    alone, charts' numbers only, when nothing is missing)."""
    if not missing:
        return count_since(start_of_day(today), charts_only=True)
    fresh = count_since(start_of_day(missing[0]))
    DailyCount.objects.bulk_create(
        [
            DailyCount(day=day, metric=key, count=fresh.get(day, {}).get(key, 0))
            for day in missing
            for key in KEYS
        ],
        # A concurrent page view or scrape counted the same day: same numbers. A day kept
        # before a number was added gets the new number and keeps its others.
        ignore_conflicts=True,
    )
    return fresh


def daily_counts(*, days: int = 30, today: dt.date | None = None) -> DailyCounts:
    """The last `days` days up to today. Closed days not counted yet are counted now (one
    query per table for all of them) and kept; today is counted every time."""
    today = today or timezone.localdate()
    span = [today - dt.timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    kept: dict[dt.date, dict[str, int]] = {}
    rows = DailyCount.objects.filter(day__gte=span[0], day__lt=today).values_list("day", "metric", "count")
    for day, metric, count in rows:
        kept.setdefault(day, {})[metric] = count
    fresh = _keep([day for day in span[:-1] if len(kept.get(day, ())) < len(KEYS)], today=today)
    values = {key: [] for key in CHART_KEYS}
    for day in span:
        # A closed day's kept numbers win over a count of its rows made now.
        numbers = fresh.get(day, {}) if day == today else fresh.get(day, {}) | kept.get(day, {})
        for key in CHART_KEYS:
            values[key].append(numbers.get(key, 0))
    return DailyCounts(days=span, values=values)


def first_day() -> dt.date | None:
    """The local day of the oldest row any number counts: four index lookups."""
    moments = [
        SubscriberEvent.objects.aggregate(m=Min("created_at"))["m"],
        Digest.objects.aggregate(m=Min("finished_at"))["m"],
        DeliveryEvent.objects.aggregate(m=Min("received_at"))["m"],
        FetchRun.objects.aggregate(m=Min("finished_at"))["m"],
    ]
    found = [timezone.localdate(moment) for moment in moments if moment is not None]
    return min(found) if found else None


def daily_counts_rollup(*, today: dt.date) -> int:
    """Count and keep every closed day since the oldest row, not only the charts' 30 days
    (the first time: one GROUP BY per table over the whole history; then nothing, or the
    day that just closed). Returns how many days were counted."""
    first = first_day()
    if first is None or first >= today:
        return 0
    complete = _complete_days(first, today)
    span = (first + dt.timedelta(days=offset) for offset in range((today - first).days))
    missing = [day for day in span if day not in complete]
    if missing:
        _keep(missing, today=today)
    return len(missing)


def totals(*, today: dt.date | None = None) -> dict[str, int]:
    """Every number summed over all time, today included: the counters of /metrics. They
    only grow, also when old rows are pruned, because closed days are read from their kept
    numbers (counted first, if a day is not kept yet)."""
    today = today or timezone.localdate()
    daily_counts_rollup(today=today)
    summed = dict(
        DailyCount.objects.filter(day__lt=today)
        .order_by()
        .values("metric")
        .annotate(total=Sum("count"))
        .values_list("metric", "total")
    )
    live = count_since(start_of_day(today)).get(today, {})
    return {key: summed.get(key, 0) + live.get(key, 0) for key in KEYS}
