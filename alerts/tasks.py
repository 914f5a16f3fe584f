"""Celery tasks: thin edges that take ids, re-read the rows and call one service."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.core import collector
from alerts.digests.dispatch import ENQUEUE_BATCH, digests_dispatch, digests_enqueue, pending_of_run
from alerts.digests.previews import digest_preview_send, digest_sample_send
from alerts.digests.recovery import digests_recover
from alerts.digests.resending import digest_resend_send
from alerts.digests.retention import rows_prune
from alerts.digests.sending import digests_send
from alerts.incidents import incidents_check
from alerts.models import Paper
from alerts.papers.fetch import FetchSpec, fetch_specs, papers_fetch
from alerts.papers.http import FetchError
from subscribers.models import Subscriber
from subscribers.services import category_notices_queue

logger = logging.getLogger(__name__)

OFFLINE_NOTE = "offline demo: fetches are skipped, nothing is requested from arXiv or Hugging Face"


class TransientFetchError(Exception):
    """A fetch that may succeed later (arXiv busy, a timeout): the only failure retried."""


@shared_task(
    autoretry_for=(TransientFetchError,),
    retry_backoff=300,  # 5 min, 10 min, 20 min...: arXiv or Hugging Face being busy passes
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=4,
    # A source is a handful of requests 3 s apart (arXiv's listings: at most
    # ARXIV_MAX_CATEGORIES_PER_RUN, 40 by default, each stored as it arrives); the API
    # back-fill pages through at most ARXIV_API_MAX_RESULTS. Past these limits something hangs.
    soft_time_limit=20 * 60,
    time_limit=25 * 60,
)
def fetch_papers_task(
    source: str | None = None,
    categories: list[str] | None = None,
    url: str = "",
    date: str | None = None,
) -> dict | None:
    """Fetch one source and store its papers. A request standing for several fetches (no
    source: the nightly set; "feed": every configured feed) queues one task per fetch, so
    that each retries, or fails, on its own. The nightly arXiv listings (no categories
    given: those in use) also tell subscribers whose filters name arXiv categories that do
    not exist, once per filter."""
    if settings.OFFLINE_DEMO:
        logger.info("offline demo: the %s fetch is skipped (no network requests)", source or "nightly")
        return {"skipped": OFFLINE_NOTE}
    day = dt.date.fromisoformat(date) if date else None
    specs = fetch_specs(source=source, categories=categories or (), url=url, date=day)
    if source is None or len(specs) != 1:
        for spec in specs:
            fetch_papers_task.delay(source=spec.source, **spec.as_params())
        return None
    if specs[0] == FetchSpec(Paper.Source.ARXIV_RSS):
        category_notices_queue(now=timezone.now())
    try:
        counts = papers_fetch(spec=specs[0])
    except FetchError as exc:
        # Already recorded in a FetchRun. Only what may pass (busy, timeouts) is retried.
        if exc.transient:
            raise TransientFetchError(str(exc)) from exc
        raise
    return {"fetched": counts.fetched, "created": counts.created, "updated": counts.updated}


@shared_task
def dispatch_due_digests(now: str | None = None) -> dict:
    """Every 15 minutes (beat): create the digests whose send hour has come and queue them.
    `now` (ISO 8601) runs it as of that moment; beat passes nothing."""
    with transaction.atomic():
        result = digests_dispatch(now=dt.datetime.fromisoformat(now) if now else timezone.now())
        queued = 0
        for ids in pending_of_run(result.window_end, size=ENQUEUE_BATCH):
            queued += digests_enqueue(ids)
    logger.info("dispatch: %d digests created, %d chunks queued", result.created, queued)
    return {"created": result.created, "chunks": queued}


@shared_task(bind=True, max_retries=None)
def send_digest_chunk(self, digest_ids: list[int]) -> dict:
    """Send a chunk of digests. Safe to run twice: only pending digests are claimed."""
    result = digests_send(digest_ids=digest_ids)
    if not self.app.conf.task_always_eager:
        # The worker keeps the run's index and caches for the next chunk: out of the cycle
        # collector's full collections from now on (alerts.core.collector). In-process
        # mode runs the task in its caller's process, whose objects are not the task's.
        collector.settle()
    if result.released and not self.app.conf.task_always_eager:
        # The ESP had a transient failure: try the rest of the chunk after the back-off.
        # (In-process mode has no delayed tasks; the recovery sweep picks them up.)
        raise self.retry(args=[result.released], countdown=result.retry_in or 0)
    return {"sent": result.sent, "skipped": result.skipped, "failed": result.failed}


@shared_task
def recover_digests(now: str | None = None) -> dict:
    """Every few minutes (beat): take over dead workers' claims, settle digests whose
    outcome is unknown, requeue orphaned digests. `now` (ISO 8601) replays the sweep as of
    another moment; beat passes nothing."""
    moment = dt.datetime.fromisoformat(now) if now else timezone.now()
    with transaction.atomic():
        result = digests_recover(now=moment)
        chunks = digests_enqueue(result.requeued) if result.requeued else 0
    counts = (result.recovered_sent, result.released, result.unknown, result.reconciled, result.resent)
    if any(counts) or chunks:
        logger.warning(
            "recovery: %d recorded as sent from the journal, %d released, %d outcome unknown, "
            "%d unknown recorded as sent from ESP webhooks, %d unknown sent again after the grace "
            "period, %d chunks requeued",
            *counts,
            chunks,
        )
    return {
        "recovered_sent": result.recovered_sent,
        "released": result.released,
        "unknown": result.unknown,
        "reconciled": result.reconciled,
        "resent": result.resent,
        "chunks": chunks,
    }


@shared_task(soft_time_limit=50 * 60, time_limit=60 * 60)
def prune_old_rows(now: str | None = None) -> dict:
    """Every night (beat): count the closed days, then delete digest items, delivery events
    and fetch runs older than RETENTION_DAYS. `now` (ISO 8601) prunes as of that moment."""
    pruned = rows_prune(now=dt.datetime.fromisoformat(now) if now else timezone.now())
    return {
        "cutoff": pruned.cutoff.isoformat(),
        "days_counted": pruned.days_counted,
        "digest_items": pruned.digest_items,
        "extra_matches": pruned.extra_matches,
        "delivery_events": pruned.delivery_events,
        "fetch_runs": pruned.fetch_runs,
    }


@shared_task
def send_test_digest(subscriber_id: int, to_email: str) -> str:
    """Admin's "send a test digest to me": the subscriber's next digest, to the admin."""
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None:
        return "subscriber gone"
    return digest_preview_send(subscriber=subscriber, to_email=to_email)


@shared_task
def resend_digest(resend_id: int) -> str:
    """An admin's re-send of a sent digest (alerts.digests.resending): sent at most once,
    never retried by itself."""
    resend = digest_resend_send(resend_id=resend_id)
    return resend.status if resend else "already taken"


@shared_task
def check_incidents(now: str | None = None) -> dict:
    """Every 5 minutes (beat): open and close operator incidents, mail the admins once each
    way (alerts.incidents). `now` (ISO 8601) runs the check as of that moment."""
    result = incidents_check(now=dt.datetime.fromisoformat(now) if now else timezone.now())
    for incident in result.opened:
        logger.warning("incident opened: %s", incident.detail)
    return {
        "opened": [f"{i.kind}:{i.key}" for i in result.opened],
        "closed": [f"{i.kind}:{i.key}" for i in result.closed],
        "mailed": result.mailed,
    }


@shared_task(soft_time_limit=60, time_limit=90)
def send_sample_digest(subscriber_id: int) -> str:
    """A subscriber's "send me a sample now" (subscribers.services.sample_request): their
    next digest, marked as a sample, to their own address; nothing is recorded as sent."""
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    # They may have unsubscribed (or been suppressed) since they asked.
    if subscriber is None or subscriber.status != Subscriber.Status.ACTIVE:
        return "skipped"
    return digest_sample_send(subscriber=subscriber)
