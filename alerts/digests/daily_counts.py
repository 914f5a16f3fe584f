"""The service's numbers per day (sign-ups, confirmations, unsubscribes, digests sent and
failed, bounces, complaints), for the admin home's charts.

A day that is over is counted once, by a GROUP BY over that day's rows, and kept as
`DailyCount` rows: its rows never change afterwards (every timestamp counted is the moment
something happened), and the charts then read 30 small rows instead of a month of digests.
Today is counted live. Days are local days of TIME_ZONE.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from alerts.models import DailyCount, DeliveryEvent, Digest
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
KEYS = tuple(key for key, _ in METRICS)


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


def count_since(since: dt.datetime) -> dict[dt.date, dict[str, int]]:
    """Every metric per day from `since` on: one aggregate query per table."""
    by_day: dict[dt.date, dict[str, int]] = {}
    parts = (
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
    )
    for part in parts:
        for day, numbers in part.items():
            by_day.setdefault(day, {}).update(numbers)
    return by_day


def daily_counts(*, days: int = 30, today: dt.date | None = None) -> DailyCounts:
    """The last `days` days up to today. Closed days not counted yet are counted now (one
    query per table for all of them) and kept; today is counted every time."""
    today = today or timezone.localdate()
    span = [today - dt.timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    kept: dict[dt.date, dict[str, int]] = {}
    for day, metric, count in DailyCount.objects.filter(day__gte=span[0], day__lt=today).values_list(
        "day", "metric", "count"
    ):
        kept.setdefault(day, {})[metric] = count
    missing = [day for day in span[:-1] if day not in kept]
    fresh = count_since(start_of_day(missing[0] if missing else today))
    DailyCount.objects.bulk_create(
        [
            DailyCount(day=day, metric=key, count=fresh.get(day, {}).get(key, 0))
            for day in missing
            for key in KEYS
        ],
        ignore_conflicts=True,  # a concurrent page view counted the same day: same numbers
    )
    values = {key: [] for key in KEYS}
    for day in span:
        numbers = kept.get(day) or fresh.get(day, {})
        for key in KEYS:
            values[key].append(numbers.get(key, 0))
    return DailyCounts(days=span, values=values)
