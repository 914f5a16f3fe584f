"""Sending digests: claim, compose, render, hand to the ESP, record. Exactly once.

The rules that make "exactly once" hold, whichever worker runs a chunk and however often:
- A digest is claimed (pending -> sending) by one conditional UPDATE with a fresh claim id;
  only the rows that carry this claim id are ours. A second worker, or the same chunk
  delivered twice, claims nothing.
- Each hand-off to the ESP is noted in the send journal at once (alerts.digests.journal); the
  database learns the chunk's outcome in a few bulk statements at the end.
- A claim older than the lease belongs to a dead worker: `digests_recover` reads the journal
  (and the ESP's webhook events) to tell sent from unsent, and only the unsent go again.
- Transient ESP errors put the digest back to pending with a back-off; permanent ones fail
  it with the ESP's reason, shown in the admin.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.utils import make_msgid, parseaddr
from functools import lru_cache
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from alerts.core import bulk
from alerts.core.mailerrors import SendError, backoff, classify
from alerts.digests import composing
from alerts.digests.composing import Composition, PeriodIndex
from alerts.digests.journal import IN_FLIGHT, SendJournal
from alerts.digests.periods import WEEKLY
from alerts.digests.rendering import Links, RenderedDigest, render_digest
from alerts.models import DeliveryEvent, Digest, DigestItem
from subscribers.models import Subscriber
from subscribers.tokens import digest_view_url, manage_url, unsubscribe_url

log = logging.getLogger(__name__)


# Messages -----------------------------------------------------------------------------


def _site_host() -> str:
    return _host_of(settings.SITE_URL)


@lru_cache(maxsize=8)
def _host_of(url: str) -> str:
    return urlsplit(url).hostname or "localhost"


@lru_cache(maxsize=8)
def _mailbox_of(address: str) -> str:
    return parseaddr(address)[1]


def list_unsubscribe(unsubscribe: str) -> str:
    """RFC 2369's List-Unsubscribe: the one-click https link (RFC 8058) and a mailto whose
    subject carries the same signed token, for clients that only send mail
    (alerts.digests.webhooks.inbound_unsubscribe reads it from the ESP's inbound webhook)."""
    mailto = settings.UNSUBSCRIBE_MAILTO or _mailbox_of(settings.DEFAULT_FROM_EMAIL)
    token = unsubscribe.rstrip("/").rsplit("/", 1)[-1]
    return f"<{unsubscribe}>, <mailto:{mailto}?subject={quote('unsubscribe ' + token)}>"


def build_message(
    *, digest: Digest, subscriber: Subscriber, rendered: RenderedDigest, unsubscribe: str, conn
) -> EmailMultiAlternatives:
    host = _site_host()
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[subscriber.email],
        connection=conn,
        headers={
            "Message-ID": make_msgid(f"digest-{digest.pk}.{digest.attempts}", domain=host),
            "List-Unsubscribe": list_unsubscribe(unsubscribe),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": f"{settings.SITE_NAME} digest <digest.{host}>",
            "Auto-Submitted": "auto-generated",
            "X-Digest-Id": str(digest.pk),
        },
    )
    message.attach_alternative(rendered.html, "text/html")
    # anymail: the digest id comes back in the ESP's webhook events; other backends ignore it.
    message.metadata = {"digest_id": str(digest.pk)}
    message.tags = ["digest"]
    message.track_clicks = False
    if settings.DIGEST_ESP_EXTRA:
        message.esp_extra = settings.DIGEST_ESP_EXTRA
    return message


def message_id_of(message: EmailMultiAlternatives) -> str:
    status = getattr(message, "anymail_status", None)
    if status is not None and status.message_id:
        return str(status.message_id)
    return message.extra_headers["Message-ID"].strip("<>")


# Composition of a chunk ---------------------------------------------------------------


@dataclass
class Prepared:
    digest: Digest
    subscriber: Subscriber
    pidx: PeriodIndex
    composition: Composition
    filter_names: list[str]
    new: bool  # composed now (its items are to be written) or read back from an earlier attempt


def _stored_items(digests: Sequence[Digest]) -> dict[int, list[DigestItem]]:
    stored: dict[int, list[DigestItem]] = defaultdict(list)
    for item in DigestItem.objects.filter(digest__in=[d.pk for d in digests]).order_by("section", "rank"):
        stored[item.digest_id].append(item)
    return stored


def _in_index(pidx: PeriodIndex, item: DigestItem):
    pos = pidx.position.get(item.paper_id)
    return None if pos is None else (pidx.papers[pos], pos)


def prepare(digests: Sequence[Digest]) -> list[Prepared]:
    """Compose every claimed digest of a chunk, with a bounded number of queries."""
    subscriber_ids = [d.subscriber_id for d in digests]
    filters = composing.filters_of(subscriber_ids)
    starts = composing.window_starts(subscriber_ids)
    retried = [d for d in digests if d.attempts > 0 and d.window_start is not None]
    stored = _stored_items(retried) if retried else {}
    by_run: dict[dt.datetime, list[Digest]] = defaultdict(list)
    for digest in digests:
        by_run[digest.window_end].append(digest)

    prepared: list[Prepared] = []
    for window_end, run in by_run.items():
        pidx = composing.period_index(window_end)
        fresh = [d for d in run if d.pk not in stored]
        sent_before = composing.already_sent(pidx, [d.subscriber_id for d in fresh]) if fresh else {}
        for digest in run:
            subscriber = digest.subscriber
            specs = filters.get(subscriber.pk, [])
            names = [spec.name for spec in specs]
            if digest.pk in stored:
                composition = composing.composition_from_items(
                    stored[digest.pk], digest.window_start, lambda item, pidx=pidx: _in_index(pidx, item)
                )
                prepared.append(Prepared(digest, subscriber, pidx, composition, names, new=False))
                continue
            previous = starts.get(subscriber.pk)
            start = (
                previous
                if previous is not None
                else composing.first_window_start(window_end, digest.frequency)
            )
            composition = composing.compose(
                pidx=pidx,
                filters=specs,
                window_start=composing.clamp_start(start, window_end),
                excluded=sent_before.get(subscriber.pk, 0),
                max_papers=subscriber.max_papers,
                include_trending=subscriber.include_trending,
            )
            prepared.append(Prepared(digest, subscriber, pidx, composition, names, new=True))
    return prepared


def digest_links(digest: Digest, subscriber: Subscriber) -> Links:
    """The signed links of one digest: manage, unsubscribe, view in the browser."""
    return Links(
        manage_url=manage_url(subscriber),
        unsubscribe_url=unsubscribe_url(subscriber),
        view_url=digest_view_url(digest, subscriber),
    )


def render(p: Prepared, links: Links) -> RenderedDigest:
    return render_digest(
        pidx=p.pidx,
        composition=p.composition,
        email=p.subscriber.email,
        filter_names=p.filter_names,
        period=p.digest.period,
        weekly=p.digest.frequency == WEEKLY,
        links=links,
    )


# The chunk ------------------------------------------------------------------------------


@dataclass
class ChunkResult:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    released: list[int] = field(default_factory=list)  # back to pending, to retry later
    retry_in: float | None = None  # seconds until the released digests are due

    def merge(self, other: ChunkResult) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.skipped += other.skipped
        self.failed += other.failed
        self.released += other.released
        if other.retry_in is not None:
            self.retry_in = other.retry_in if self.retry_in is None else min(self.retry_in, other.retry_in)


def claim(digest_ids: Sequence[int], now: dt.datetime) -> list[Digest]:
    """Take the pending, due digests among `digest_ids` for this worker, atomically."""
    claim_id = uuid.uuid4()
    Digest.objects.filter(pk__in=list(digest_ids), status=Digest.Status.PENDING).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    ).update(status=Digest.Status.SENDING, claim_id=claim_id, claimed_at=now)
    return list(
        Digest.objects.filter(claim_id=claim_id, status=Digest.Status.SENDING)
        .select_related("subscriber")
        .order_by("pk")
    )


def _with_db_retry(work: Callable[[], None], what: str) -> None:
    """Run a database write, reconnecting and retrying if the connection drops: the ESP
    has already accepted these messages, so giving up here would mean sending them again."""
    delays = settings.DIGEST_DB_RETRY_DELAYS
    for attempt in range(len(delays) + 1):
        try:
            work()
            return
        except DatabaseError as exc:
            if attempt == len(delays):
                raise
            log.warning("database error while %s (%s); reconnecting in %.1fs", what, exc, delays[attempt])
            connection.close()
            time.sleep(delays[attempt])
            close_old_connections()


def digests_send(
    *,
    digest_ids: Sequence[int],
    now: dt.datetime | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ChunkResult:
    """Send the digests `digest_ids` that are pending and due. Safe to run twice, or on two
    workers at once: each digest goes to the ESP at most once per claim."""
    now = now or timezone.now()
    result = ChunkResult()
    digests = claim(digest_ids, now)
    result.claimed = len(digests)
    if not digests:
        return result

    skipped: list[Digest] = []
    live: list[Digest] = []
    for digest in digests:
        if digest.subscriber is None or not digest.subscriber.is_receiving:
            # Unsubscribed, paused, bounced or erased since the digest was dispatched.
            digest.last_error = "subscriber no longer receives digests"
            skipped.append(digest)
        else:
            live.append(digest)

    prepared = prepare(live) if live else []
    to_send: list[Prepared] = []
    new_items: list[dict] = []
    for p in prepared:
        digest, comp = p.digest, p.composition
        if p.new:
            digest.window_start = comp.window_start
            digest.paper_count = len(comp.items)
            for item in comp.all_items:
                new_items.append(
                    {
                        "digest_id": digest.pk,
                        "paper_id": item.paper.id,
                        "section": item.section,
                        "rank": item.rank,
                        "score": item.score,
                        "filters": item.filters,
                        "terms": list(item.terms),
                    }
                )
        if comp.invalid_filters:
            digest.last_error = "filters that could not be read were left out: " + ", ".join(
                comp.invalid_filters
            )
        if comp.is_empty and not p.subscriber.send_when_empty:
            skipped.append(digest)
        else:
            to_send.append(p)

    with transaction.atomic():
        bulk.insert_ignoring_conflicts(DigestItem, new_items)
        bulk.update([p.digest for p in prepared if p.new], ["window_start", "paper_count", "last_error"])
        for d in skipped:
            d.status, d.finished_at, d.claim_id = Digest.Status.SKIPPED, now, None
        bulk.update(skipped, ["status", "finished_at", "claim_id", "last_error"])
    result.skipped = len(skipped)
    if on_progress and skipped:
        on_progress(len(skipped))

    journal = SendJournal()
    sent: list[Digest] = []
    failed: list[Digest] = []
    released: list[Digest] = []
    transient: SendError | None = None
    conn = get_connection()
    try:
        conn.open()
        noted = None  # the digest the journal already has in flight
        for n, p in enumerate(to_send):
            digest = p.digest
            if transient is not None:
                released.append(digest)  # the ESP is struggling: don't hammer it
                continue
            try:
                links = digest_links(p.digest, p.subscriber)
                rendered = render(p, links)
                digest.subject = rendered.subject[:255]
                digest.attempts += 1
                message = build_message(
                    digest=digest,
                    subscriber=p.subscriber,
                    rendered=rendered,
                    unsubscribe=links.unsubscribe_url,
                    conn=conn,
                )
                if noted != digest.pk:
                    journal.begin(digest.pk)
                conn.send_messages([message])
            except Exception as exc:
                error = classify(exc)
                digest.last_error = error.reason
                log.warning("digest %s: %s", digest.pk, error.reason)
                if not error.transient or digest.attempts >= settings.DIGEST_MAX_ATTEMPTS:
                    if error.transient:
                        digest.last_error = f"gave up after {digest.attempts} attempts: {error.reason}"
                    failed.append(digest)
                else:
                    transient = error
                    released.append(digest)
                    result.retry_in = backoff(digest.attempts, error.retry_after)
                continue
            digest.esp_message_id = message_id_of(message)[:255]
            # Noted at once, with the next digest's start: if the worker dies before that
            # one is handed over, recovery sends it (in flight counts as not sent).
            noted = to_send[n + 1].digest.pk if n + 1 < len(to_send) else None
            journal.accepted(digest.pk, digest.esp_message_id, next_id=noted)
            sent.append(digest)
            if on_progress:
                on_progress(1)
    finally:
        try:
            conn.close()
        except Exception as exc:
            log.info("closing the mail connection failed: %s", exc)

    done = timezone.now()
    for digest in sent:
        digest.status, digest.sent_at, digest.finished_at = Digest.Status.SENT, done, done
        digest.claim_id = None
    for digest in failed:
        digest.status, digest.finished_at, digest.claim_id = Digest.Status.FAILED, done, None
    next_attempt = done + dt.timedelta(seconds=result.retry_in or 0)
    for digest in released:
        digest.status, digest.claim_id, digest.next_attempt_at = Digest.Status.PENDING, None, next_attempt
        digest.queued_at = done

    def finalise() -> None:
        with transaction.atomic():
            bulk.update(
                sent + failed + released,
                [
                    "status",
                    "subject",
                    "attempts",
                    "esp_message_id",
                    "last_error",
                    "sent_at",
                    "finished_at",
                    "claim_id",
                    "next_attempt_at",
                    "queued_at",
                ],
            )

    if sent or failed or released:
        _with_db_retry(finalise, "recording sent digests")
        journal.forget(d.pk for d in sent + failed + released)
    result.sent, result.failed = len(sent), len(failed)
    result.released = [d.pk for d in released]
    return result


def digests_retry(*, digest_ids: Sequence[int]) -> int:
    """Send failed digests again (an admin's decision, e.g. after fixing the ESP settings)."""
    from alerts.digests.dispatch import digests_enqueue

    with transaction.atomic():
        ids = list(
            Digest.objects.filter(pk__in=list(digest_ids), status=Digest.Status.FAILED).values_list(
                "pk", flat=True
            )
        )
        Digest.objects.filter(pk__in=ids).update(
            status=Digest.Status.PENDING, attempts=0, next_attempt_at=None, finished_at=None
        )
        digests_enqueue(ids)
    return len(ids)


# Recovery -----------------------------------------------------------------------------


@dataclass
class RecoveryResult:
    recovered_sent: int = 0
    released: int = 0
    requeued: list[int] = field(default_factory=list)


def digests_recover(*, now: dt.datetime | None = None) -> RecoveryResult:
    """Take over the claims of dead workers, and find pending digests nobody is working on.

    A digest still `sending` after the lease was claimed by a worker that died (a live one
    finishes within the task's hard time limit, which the lease exceeds). The journal, or
    an ESP webhook event naming the digest, says whether the ESP accepted it: then it is
    recorded as sent. Otherwise it goes back to pending and is sent. (A digest the ESP
    accepted in the instant before the worker died, before the journal heard of it, is the
    one case that can reach the subscriber twice.)
    """
    now = now or timezone.now()
    result = RecoveryResult()
    stale = list(
        Digest.objects.filter(
            status=Digest.Status.SENDING,
            claimed_at__lt=now - dt.timedelta(seconds=settings.DIGEST_SEND_LEASE),
        ).values_list("pk", flat=True)
    )
    if stale:
        journal = SendJournal()
        known = journal.lookup(stale)
        evidence = dict(
            DeliveryEvent.objects.filter(digest_id__in=stale)
            .exclude(message_id="")
            .values_list("digest_id", "message_id")
        )
        accepted = {pk: mid for pk, mid in known.items() if mid != IN_FLIGHT}
        for pk, mid in evidence.items():
            accepted.setdefault(pk, mid)
        for pk, message_id in accepted.items():
            result.recovered_sent += Digest.objects.filter(pk=pk, status=Digest.Status.SENDING).update(
                status=Digest.Status.SENT,
                esp_message_id=message_id[:255],
                sent_at=now,
                finished_at=now,
                claim_id=None,
                attempts=F("attempts") + 1,
                last_error="recorded by the recovery sweep: the worker stopped before recording it, "
                "and the send journal (or an ESP webhook) shows the ESP had accepted it",
            )
        unsent = [pk for pk in stale if pk not in accepted]
        interrupted = [pk for pk in unsent if known.get(pk) == IN_FLIGHT]
        result.released = Digest.objects.filter(pk__in=unsent, status=Digest.Status.SENDING).update(
            status=Digest.Status.PENDING, claim_id=None, queued_at=None, next_attempt_at=None
        )
        if interrupted:
            Digest.objects.filter(pk__in=interrupted).update(
                last_error="the worker stopped while handing this digest to the ESP; sent again"
            )
        journal.forget(accepted)

    # Pending digests whose task message is gone (a broker restart, a lost retry).
    requeue_before = now - dt.timedelta(seconds=settings.DIGEST_REQUEUE_AFTER)
    due = (
        Digest.objects.filter(status=Digest.Status.PENDING)
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=requeue_before))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    )
    result.requeued = list(due.order_by("pk").values_list("pk", flat=True)[: settings.DIGEST_REQUEUE_BATCH])
    if result.requeued:
        requeued = Digest.objects.filter(pk__in=result.requeued)
        # Said where the admin looks, unless an ESP error already explains the delay.
        requeued.filter(queued_at__isnull=False, last_error="").update(
            last_error="queued again by the recovery sweep: no worker had taken it "
            f"{settings.DIGEST_REQUEUE_AFTER} s after it was queued "
            "(its task message may have been lost, e.g. in a broker restart)"
        )
        requeued.update(queued_at=now)
    return result
