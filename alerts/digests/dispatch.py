"""Dispatch: create the digest rows of every subscriber whose period is due, in bulk.

One query per (time zone, frequency) finds the due subscribers without a digest for their
period; rows are inserted in batches with the unique (subscriber, period) constraint as the
guard, so two dispatches at once, or one run twice, create each digest once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from alerts.core import bulk, jobs
from alerts.core.batches import chunked
from alerts.digests.periods import due_hours, period_start
from alerts.models import Digest
from subscribers.models import Subscriber

INSERT_BATCH = 5000
# Digest ids queued per UPDATE of their queued_at (each chunk of them is then one task).
ENQUEUE_BATCH = 10_000


@dataclass
class DispatchResult:
    window_end: dt.datetime
    created: int = 0
    # The (frequency, period) pairs this run considered: `send_digests` sends every
    # pending digest of these periods, also those an earlier run created.
    periods: set[tuple[str, dt.date]] = field(default_factory=set)


def receiving_subscribers(emails: list[str] | None = None):
    """Those who get digests; only these addresses when `emails` is given (`send_digests --email`)."""
    qs = Subscriber.objects.receiving()
    return qs.by_email(*emails) if emails else qs


def digests_dispatch(
    *,
    now: dt.datetime | None = None,
    day: dt.date | None = None,
    emails: list[str] | None = None,
    due_only: bool = True,
) -> DispatchResult:
    """Create the pending digests of this moment.

    With `due_only` (the beat run, every 15 minutes) a subscriber is due once their local send hour
    has come in their current period. Without it (`send_digests`), everyone receiving gets
    the digest of the period containing `day` (their local today by default), whatever the
    hour. Every digest of one run shares `window_end`, so workers build one index per run.
    """
    now = now or timezone.now()
    window_end = now
    result = DispatchResult(window_end=window_end)
    # Another run in the same second shares window_end: count only what this one adds.
    before = Digest.objects.filter(window_end=window_end).count()
    week_start = settings.DIGEST_WEEK_START
    receiving = receiving_subscribers(emails)
    groups = receiving.order_by().values_list("timezone", "frequency").distinct()
    # On the clock, a digest for this period or a later one rules the subscriber out: one
    # who moved west across the date line after today's digest must not get yesterday's.
    # An explicit `day` (an operator catching up on a missed day) needs only its own.
    lookup = "period" if day is not None else "period__gte"
    for tz_name, frequency in groups:
        if day is not None:
            start, max_hour = period_start(day, frequency, week_start), 23
        else:
            start, max_hour = due_hours(now=now, timezone=tz_name, frequency=frequency, week_start=week_start)
            if not due_only:
                max_hour = 23
        if max_hour < 0:
            continue
        result.periods.add((frequency, start))
        due = (
            receiving.filter(timezone=tz_name, frequency=frequency, send_hour__lte=max_hour)
            .exclude(Exists(Digest.objects.filter(subscriber=OuterRef("pk"), **{lookup: start})))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        batch: list[dict] = []
        for sub_id in due.iterator(chunk_size=INSERT_BATCH):
            batch.append(
                {"subscriber_id": sub_id, "period": start, "frequency": frequency, "window_end": window_end}
            )
            if len(batch) >= INSERT_BATCH:
                bulk.insert_ignoring_conflicts(Digest, batch)
                batch = []
        bulk.insert_ignoring_conflicts(Digest, batch)
    # Rows another run inserted first were ignored: count what this run made.
    result.created = Digest.objects.filter(window_end=window_end).count() - before
    return result


def pending_of_periods(
    periods: set[tuple[str, dt.date]], emails: list[str] | None = None, status: str = Digest.Status.PENDING
) -> list[int]:
    """Pending digests (or those in `status`) of these periods for subscribers still
    receiving, oldest first."""
    if not periods:
        return []
    match = Q()
    for frequency, start in periods:
        match |= Q(frequency=frequency, period=start)
    return list(
        Digest.objects.filter(match, status=status, subscriber__in=receiving_subscribers(emails))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def digests_enqueue(digest_ids: list[int]) -> int:
    """Queue send tasks for these digests, in chunks, once the current transaction commits."""
    Digest.objects.filter(pk__in=digest_ids).update(queued_at=timezone.now())
    chunks = list(chunked(digest_ids, settings.DIGEST_CHUNK_SIZE))
    for ids in chunks:
        jobs.enqueue_on_commit("alerts.tasks.send_digest_chunk", ids)
    return len(chunks)


def pending_of_run(window_end: dt.datetime, size: int | None = None) -> Iterator[list[int]]:
    """The ids of a run's pending digests, in chunks of `size` (default DIGEST_CHUNK_SIZE)."""
    size = size or settings.DIGEST_CHUNK_SIZE
    ids = (
        Digest.objects.filter(window_end=window_end, status=Digest.Status.PENDING)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    chunk: list[int] = []
    for pk in ids.iterator(chunk_size=10_000):
        chunk.append(pk)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
