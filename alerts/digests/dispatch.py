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
from alerts.core.periods import WEEKLY, due_hours, period_start, ruled_out_by
from alerts.models import Digest
from subscribers.models import Subscriber
from subscribers.services import pauses_end

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
    # A pause with an end date ends here, before anyone is selected: its period is due now.
    pauses_end(now=now)
    # Another run in the same second shares window_end: count only what this one adds.
    before = Digest.objects.filter(window_end=window_end).count()
    receiving = receiving_subscribers(emails)
    rows = receiving.order_by().values_list("timezone", "frequency", "week_day").distinct()
    # Weekly subscribers' weeks start on their own day; daily ones ignore it.
    groups = {
        (tz_name, frequency, week_day if frequency == WEEKLY else None)
        for tz_name, frequency, week_day in rows
    }
    for tz_name, frequency, week_day in sorted(groups, key=lambda g: (g[0], g[1], g[2] or 0)):
        if day is not None:
            start, max_hour = period_start(day, frequency, week_day or 0), 23
        else:
            start, max_hour = due_hours(
                now=now, timezone=tz_name, frequency=frequency, week_start=week_day or 0
            )
            if not due_only:
                max_hour = 23
        if max_hour < 0:
            continue
        result.periods.add((frequency, start))
        due = receiving.filter(timezone=tz_name, frequency=frequency, send_hour__lte=max_hour)
        if week_day is not None:
            due = due.filter(week_day=week_day)
        due = (
            due.exclude(Exists(Digest.objects.filter(_ruled_out(start, frequency, exact=day is not None))))
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


def _ruled_out(start: dt.date, frequency: str, *, exact: bool) -> Q:
    """The subscriber's digests that rule out one for the period starting on `start`
    (alerts.core.periods.ruled_out_by). An explicit day (an operator catching up on a
    missed one) needs only its own period."""
    if exact:
        return Q(subscriber=OuterRef("pk"), period=start)
    match = Q()
    for kind, since in ruled_out_by(start, frequency):
        match |= Q(period__gte=since, **({"frequency": kind} if kind else {}))
    return Q(match, subscriber=OuterRef("pk"))


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
