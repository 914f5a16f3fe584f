"""Retention: digest items, delivery events and fetch runs older than RETENTION_DAYS go,
every night, in short batches. The numbers the admin home's charts and /metrics show are
kept first: every closed day is counted into `DailyCount` before any of its rows goes.

Digests, subscribers and their audit events stay: they are one row per subscriber and
period or per state change, and the unique digest per period is what prevents a double
send. What grows with every paper of every digest (the items), with every webhook call
(the delivery events) and with every fetch (the runs) is what goes.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.utils import timezone

from alerts.digests.daily_counts import daily_counts_rollup
from alerts.models import DeliveryEvent, Digest, DigestItem, FetchRun

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pruned:
    cutoff: dt.datetime
    days_counted: int  # closed days counted into DailyCount before deleting
    digest_items: int
    extra_matches: int  # old digests whose list of extra matches (Digest.more_matches) was emptied
    delivery_events: int
    fetch_runs: int


def shortest_retention() -> int:
    """Items tell the composer which papers a subscriber already received, as far back as
    a digest reaches (DIGEST_MAX_LOOKBACK_DAYS) plus a weekly period: keep at least that."""
    return settings.DIGEST_MAX_LOOKBACK_DAYS + 7


def _prune_by_time(queryset: QuerySet, field: str, cutoff: dt.datetime, batch: int) -> int:
    """Delete the rows whose indexed `field` is before `cutoff`, oldest first, `batch` at a time."""
    deleted = 0
    old = queryset.filter(**{f"{field}__lt": cutoff}).order_by(field)
    while ids := list(old.values_list("pk", flat=True)[:batch]):
        deleted += queryset.filter(pk__in=ids).delete()[0]
        if len(ids) < batch:
            break
    return deleted


def _prune_items(cutoff: dt.datetime, batch: int) -> int:
    """Delete the items of digests created before `cutoff`. Items have no time of their own
    but are written in the order digests are composed, so they are walked by id, oldest
    first, reading the first `batch` of the table each time; the walk stops at the first
    item of a younger digest (an old item written after it goes on a later night)."""
    deleted = 0
    while head := list(DigestItem.objects.order_by("pk").values_list("pk", "digest__created_at")[:batch]):
        old = [pk for pk, created in head if created < cutoff]
        if old:
            deleted += DigestItem.objects.filter(pk__in=old).delete()[0]
        if len(old) < len(head):
            break
    return deleted


def _prune_extra_matches(cutoff: dt.datetime, batch: int) -> int:
    """Empty the list of extra matches (`Digest.more_matches`) of digests created before
    `cutoff`: it is the same kind of per-paper record as the items, and goes with them."""
    emptied = 0
    old = Digest.objects.filter(created_at__lt=cutoff).exclude(more_matches={}).order_by("pk")
    while ids := list(old.values_list("pk", flat=True)[:batch]):
        emptied += Digest.objects.filter(pk__in=ids).update(more_matches={})
        if len(ids) < batch:
            break
    return emptied


def rows_prune(*, now: dt.datetime, days: int | None = None, batch: int | None = None) -> Pruned:
    """Count every closed day, then delete digest items, delivery events and fetch runs older
    than `days` (RETENTION_DAYS) before `now`, `batch` (RETENTION_BATCH) rows per statement."""
    days = settings.RETENTION_DAYS if days is None else days
    batch = batch or settings.RETENTION_BATCH
    if days < shortest_retention():
        raise ImproperlyConfigured(
            f"RETENTION_DAYS is {days}: keep at least {shortest_retention()} days (DIGEST_MAX_LOOKBACK_DAYS "
            "plus a week), or papers a subscriber already received could be sent again."
        )
    # The counts first, committed on their own: a failure below loses no number.
    counted = daily_counts_rollup(today=timezone.localdate(now))
    cutoff = now - dt.timedelta(days=days)
    pruned = Pruned(
        cutoff=cutoff,
        days_counted=counted,
        digest_items=_prune_items(cutoff, batch),
        extra_matches=_prune_extra_matches(cutoff, batch),
        delivery_events=_prune_by_time(DeliveryEvent.objects, "received_at", cutoff, batch),
        fetch_runs=_prune_by_time(FetchRun.objects, "started_at", cutoff, batch),
    )
    log.info(
        "retention: deleted %d digest items (and the extra matches of %d digests), %d delivery events"
        " and %d fetch runs older than %s (%d closed days counted first)",
        pruned.digest_items,
        pruned.extra_matches,
        pruned.delivery_events,
        pruned.fetch_runs,
        cutoff.isoformat(),
        counted,
    )
    return pruned
