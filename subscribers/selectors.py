"""Reads about subscribers: for the admin, counts by status, and sign-ups and active
subscribers per day (from the audit trail, so erased subscribers still count); for the
subscriber's pages, when their next digest comes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Max, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from alerts.core import periods
from alerts.models import Digest
from alerts.search.query import unknown_categories
from subscribers.models import Subscriber, SubscriberEvent, TopicFilter

Status = Subscriber.Status
Kind = SubscriberEvent.Kind


@dataclass(frozen=True)
class DayStats:
    day: dt.date
    signups: int
    confirmations: int
    unsubscribes: int
    suppressions: int
    active: int  # at the end of the day (paused subscribers included)


def subscriber_status_counts() -> dict[str, int]:
    """{status: count} for every status, plus "paused" (active subscribers who paused) and "total"."""
    counts = dict.fromkeys(Status.values, 0)
    for row in Subscriber.objects.values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    counts["paused"] = Subscriber.objects.filter(status=Status.ACTIVE, paused_at__isnull=False).count()
    counts["total"] = sum(counts[status] for status in Status.values)
    return counts


def subscriber_daily_stats(*, days: int = 30) -> list[DayStats]:
    """The last DAYS days, oldest first. Active counts are walked back from today's through
    every status change the audit trail recorded (each one has its before and after)."""
    today = timezone.localdate()
    first = today - dt.timedelta(days=days - 1)
    since = timezone.make_aware(dt.datetime.combine(first, dt.time.min))
    became_active = Q(to_status=Status.ACTIVE) & ~Q(from_status=Status.ACTIVE)
    left_active = Q(from_status=Status.ACTIVE) & ~Q(to_status=Status.ACTIVE)
    rows = (
        SubscriberEvent.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            signups=Count("id", filter=Q(kind=Kind.CREATED)),
            confirmations=Count("id", filter=Q(kind=Kind.CONFIRMED)),
            unsubscribes=Count("id", filter=Q(kind=Kind.UNSUBSCRIBED)),
            suppressions=Count("id", filter=Q(kind__in=[Kind.BOUNCED, Kind.COMPLAINED, Kind.SUPPRESSED])),
            gained=Count("id", filter=became_active),
            lost=Count("id", filter=left_active),
        )
    )
    by_day = {row["day"]: row for row in rows}
    active = Subscriber.objects.filter(status=Status.ACTIVE).count()
    out = []
    for offset in range(days):
        day = today - dt.timedelta(days=offset)
        row = by_day.get(day, {})
        out.append(
            DayStats(
                day=day,
                signups=row.get("signups", 0),
                confirmations=row.get("confirmations", 0),
                unsubscribes=row.get("unsubscribes", 0),
                suppressions=row.get("suppressions", 0),
                active=active,
            )
        )
        active -= row.get("gained", 0) - row.get("lost", 0)
    return out[::-1]


@dataclass(frozen=True)
class CategoryNotice:
    """A stored filter that names arXiv categories that do not exist: it matches nothing
    until it is changed. `unknown` holds (as written, the nearest real one or None)."""

    filter_id: int
    subscriber_id: int
    name: str
    query: str
    unknown: list[tuple[str, str | None]]


def filters_with_unknown_categories(
    *, subscriber_ids: list[int] | None = None, untold_only: bool = False
) -> list[CategoryNotice]:
    """Filters saved before `cat:` was checked against arXiv's taxonomy that name a category
    it does not have (only a `cat:` can), of the given subscribers or of everyone.
    `untold_only`: the active filters of active subscribers not yet emailed about it."""
    filters = TopicFilter.objects.filter(query__icontains="cat:").order_by("subscriber_id", "position", "id")
    if subscriber_ids is not None:
        filters = filters.filter(subscriber_id__in=subscriber_ids)
    if untold_only:
        filters = filters.filter(
            is_active=True, subscriber__status=Status.ACTIVE, category_notice_sent_at__isnull=True
        )
    notices = []
    for pk, subscriber_id, name, query in filters.values_list(
        "pk", "subscriber_id", "name", "query"
    ).iterator():
        if unknown := unknown_categories(query):
            notices.append(CategoryNotice(pk, subscriber_id, name, query, unknown))
    return notices


def next_digest_at(subscriber: Subscriber, *, now: dt.datetime) -> dt.datetime | None:
    """When the dispatch creates the subscriber's next digest (UTC), by the rule its query
    follows (alerts.core.periods.next_digest_at); None while none is coming (not active,
    or paused with no end)."""
    if subscriber.status != Subscriber.Status.ACTIVE or (
        subscriber.paused_at and not subscriber.paused_until
    ):
        return None
    latest = Digest.objects.filter(subscriber=subscriber).aggregate(
        any=Max("period"), weekly=Max("period", filter=Q(frequency=periods.WEEKLY))
    )
    return periods.next_digest_at(
        now=now,
        timezone=subscriber.timezone,
        frequency=subscriber.frequency,
        send_hour=subscriber.send_hour,
        week_start=subscriber.week_day,
        latest={None: latest["any"], periods.WEEKLY: latest["weekly"]},
        resume_at=subscriber.paused_until if subscriber.paused_at else None,
    )
