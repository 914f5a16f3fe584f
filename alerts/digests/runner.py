"""`send_digests`: dispatch, match and send one period's digests in this process."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from alerts.core.batches import chunked
from alerts.digests import composing
from alerts.digests.dispatch import digests_dispatch, pending_of_periods, receiving_subscribers
from alerts.digests.sending import ChunkResult, digests_send
from alerts.models import Digest

# In-process retries wait for a struggling ESP this long at most; what is still pending
# after that is left to the workers' retries and the recovery sweep.
MAX_WAIT_SECONDS = 300
MAX_SINGLE_WAIT = 60


@dataclass
class DeliveryRun:
    subscribers: int = 0
    created: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    unknown: int = 0  # the period's digests whose ESP answer was lost: left to the recovery sweep
    pending: int = 0
    would_send: int = 0
    would_skip: int = 0


def digests_dry_run(*, emails: list[str] | None, now: dt.datetime) -> DeliveryRun:
    """Compose every receiving subscriber's digest against one index; write nothing."""
    run = DeliveryRun()
    pidx = composing.build_period_index(now)
    subscribers = list(receiving_subscribers(emails).order_by("pk"))
    run.subscribers = len(subscribers)
    for group in chunked(subscribers, 500):
        chunk = [s.pk for s in group]
        filters = composing.filters_of(chunk)
        pidx.index.match_many(spec.query for specs in filters.values() for spec in specs)
        seeds = composing.seeds_of(chunk)
        starts = composing.window_starts(chunk)
        sent_before = composing.already_sent(pidx, chunk)
        for subscriber in group:
            start = starts.get(subscriber.pk) or composing.first_window_start(now, subscriber.frequency)
            composition = composing.compose(
                pidx=pidx,
                filters=filters.get(subscriber.pk, []),
                window_start=composing.clamp_start(start, now),
                excluded=sent_before.get(subscriber.pk, 0),
                max_papers=subscriber.max_papers,
                include_trending=subscriber.include_trending,
                seeds=seeds.get(subscriber.pk),
            )
            if composition.is_empty and not subscriber.send_when_empty:
                run.would_skip += 1
            else:
                run.would_send += 1
    return run


def digests_run(
    *,
    day: dt.date | None = None,
    emails: list[str] | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> DeliveryRun:
    now = now or timezone.now()
    if dry_run:
        return digests_dry_run(emails=emails, now=now)
    run = DeliveryRun(subscribers=receiving_subscribers(emails).count())
    dispatched = digests_dispatch(now=now, day=day, emails=emails, due_only=False)
    run.created = dispatched.created
    ids = pending_of_periods(dispatched.periods, emails)
    if on_total:
        on_total(len(ids))
    total = ChunkResult()
    waited = 0.0
    while ids:
        released: list[int] = []
        retry_in = None
        for chunk in chunked(ids, settings.DIGEST_CHUNK_SIZE):
            result = digests_send(digest_ids=chunk, on_progress=on_progress)
            total.merge(result)
            released += result.released
            if result.retry_in is not None:
                retry_in = result.retry_in if retry_in is None else min(retry_in, result.retry_in)
        if (
            not released
            or retry_in is None
            or retry_in > MAX_SINGLE_WAIT
            or waited + retry_in > MAX_WAIT_SECONDS
        ):
            break
        time.sleep(retry_in)
        waited += retry_in
        ids = released
    composing.filter_store_save(force=True)  # this run's new filters, for the next one
    run.sent, run.skipped, run.failed = total.sent, total.skipped, total.failed
    run.pending = len(pending_of_periods(dispatched.periods, emails))
    run.unknown = len(pending_of_periods(dispatched.periods, emails, status=Digest.Status.UNKNOWN))
    return run
