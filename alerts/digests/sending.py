"""Sending digests: claim, store, hand off to the ESP, finalise. Exactly once.

The rules that make "exactly once" hold, whichever worker runs a chunk and however often:
- A digest is claimed (pending -> sending) by one conditional UPDATE with a fresh claim id;
  only the rows that carry this claim id are ours. A second worker, or the same chunk
  delivered twice, claims nothing.
- Each hand-off to the ESP is noted in the send journal at once (alerts.digests.journal); the
  database learns the chunk's outcome in a few bulk statements at the end.
- A claim older than the lease belongs to a dead worker: the recovery sweep
  (alerts.digests.recovery) reads the journal (and the ESP's webhook events) to tell sent
  from unsent, and only the unsent go again.
- Transient ESP errors put the digest back to pending with a back-off; permanent ones fail
  it with the ESP's reason, shown in the admin.
- A failure after which the ESP may hold the message all the same (a read timeout, a
  connection dropped after the request was sent) is never retried blindly: the digest
  becomes unknown, and the recovery sweep settles it from the ESP's evidence
  (alerts.digests.recovery.reconcile_unknown).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import get_connection
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from alerts.core import bulk
from alerts.digests.composing import Composition, Prepared, more_stored, prepare
from alerts.digests.journal import SendJournal
from alerts.digests.messages import build_message, digest_links, message_id_of, render
from alerts.digests.recovery import mark_unknown, retry_in, schedule_retries, send_error_of
from alerts.digests.wire import hand_over
from alerts.models import Digest, DigestItem

log = logging.getLogger(__name__)

Progress = Callable[[int], None] | None

FINAL_FIELDS = [
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
    "unknown_since",
]


@dataclass
class ChunkResult:
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    unknown: int = 0  # the ESP may have them: left to the recovery sweep
    released: list[int] = field(default_factory=list)  # back to pending, to retry later
    retry_in: float | None = None  # seconds until the released digests are due

    def merge(self, other: ChunkResult) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.skipped += other.skipped
        self.failed += other.failed
        self.unknown += other.unknown
        self.released += other.released
        if other.retry_in is not None:
            self.retry_in = other.retry_in if self.retry_in is None else min(self.retry_in, other.retry_in)


@dataclass
class HandOff:
    """What the ESP made of a chunk's digests."""

    sent: list[Digest] = field(default_factory=list)
    failed: list[Digest] = field(default_factory=list)
    released: list[Digest] = field(default_factory=list)  # a transient error: retry later
    unknown: list[Digest] = field(default_factory=list)  # the answer was lost: never blindly again
    retry_in: float | None = None

    @property
    def done(self) -> list[Digest]:
        return self.sent + self.failed + self.released + self.unknown


def digests_send(
    *, digest_ids: Sequence[int], now: dt.datetime | None = None, on_progress: Progress = None
) -> ChunkResult:
    """Send the digests `digest_ids` that are pending and due. Safe to run twice, or on two
    workers at once: each digest goes to the ESP at most once per claim."""
    now = now or timezone.now()
    digests = claim(digest_ids, now)
    if not digests:
        return ChunkResult()
    live, gone = _split_receiving(digests)
    to_send, skipped = store(prepare(live) if live else [], gone, now)
    if on_progress and skipped:
        on_progress(len(skipped))
    journal = SendJournal()
    outcome = hand_off(to_send, journal, on_progress)
    finalise(outcome, journal)
    return ChunkResult(
        claimed=len(digests),
        sent=len(outcome.sent),
        skipped=len(skipped),
        failed=len(outcome.failed),
        unknown=len(outcome.unknown),
        released=[d.pk for d in outcome.released],
        retry_in=outcome.retry_in,
    )


# Claim --------------------------------------------------------------------------------------


def claim(digest_ids: Sequence[int], now: dt.datetime) -> list[Digest]:
    """Take the pending, due digests among `digest_ids` for this worker, atomically."""
    claim_id = uuid.uuid4()
    ids = list(digest_ids)
    Digest.objects.filter(pk__in=ids, status=Digest.Status.PENDING).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    ).update(status=Digest.Status.SENDING, claim_id=claim_id, claimed_at=now)
    # Read back by primary key: claim_id needs no index of its own (one entry fewer to
    # write at every change of a digest row).
    return list(
        Digest.objects.filter(pk__in=ids, claim_id=claim_id, status=Digest.Status.SENDING)
        .select_related("subscriber")
        .order_by("pk")
    )


def _split_receiving(digests: list[Digest]) -> tuple[list[Digest], list[Digest]]:
    """(digests whose subscriber still receives them, the others, to be skipped)."""
    live: list[Digest] = []
    gone: list[Digest] = []
    for digest in digests:
        if digest.subscriber is None or not digest.subscriber.is_receiving:
            # Unsubscribed, paused, bounced or erased since the digest was dispatched.
            digest.last_error = "subscriber no longer receives digests"
            gone.append(digest)
        else:
            live.append(digest)
    return live, gone


# Store --------------------------------------------------------------------------------------


def _item_rows(digest: Digest, composition: Composition) -> list[dict]:
    return [
        {
            "digest_id": digest.pk,
            "paper_id": item.paper.id,
            "section": item.section,
            "rank": item.rank,
            "score": item.score,
            "filters": item.filters,
            "terms": list(item.terms),
        }
        for item in composition.all_items
    ]


def store(
    prepared: list[Prepared], skipped: list[Digest], now: dt.datetime
) -> tuple[list[Prepared], list[Digest]]:
    """Write what was composed (the items of new compositions) and finish the digests with
    nothing to send, in one transaction, before anything goes to the ESP: a retry then
    sends the same digest. Returns (the digests to send, the skipped ones)."""
    skipped = list(skipped)
    to_send: list[Prepared] = []
    new_items: list[dict] = []
    for p in prepared:
        digest, comp = p.digest, p.composition
        if p.new:
            digest.window_start = comp.window_start
            digest.paper_count = len(comp.items)
            digest.more_matches = more_stored(comp)
            new_items += _item_rows(digest, comp)
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
        bulk.update(
            [p.digest for p in prepared if p.new],
            ["window_start", "paper_count", "more_matches", "last_error"],
        )
        for d in skipped:
            d.status, d.finished_at, d.claim_id = Digest.Status.SKIPPED, now, None
        bulk.update(skipped, ["status", "finished_at", "claim_id", "last_error"])
    return to_send, skipped


# Hand off -----------------------------------------------------------------------------------


# One mail connection per worker process (and thread), kept open from chunk to chunk: an
# SMTP session (connect, EHLO, STARTTLS, AUTH) or an ESP's HTTPS session per chunk is work
# and round trips that a long run repeats thousands of times. It is dropped after any error
# and when the mail settings change, and an idle one is checked before it is used again.
_kept = threading.local()
# A kept connection unused for longer than this is closed and opened anew rather than
# trusted: servers drop idle sessions (SMTP servers after a few minutes, RFC 5321 4.5.3.2).
MAIL_IDLE_SECONDS = 60.0


def _mail_settings() -> tuple:
    return (
        settings.EMAIL_BACKEND,
        settings.EMAIL_HOST,
        settings.EMAIL_PORT,
        settings.EMAIL_HOST_USER,
        settings.EMAIL_USE_TLS,
        settings.EMAIL_USE_SSL,
        repr(getattr(settings, "ANYMAIL", None)),
    )


def mail_connection():
    """This worker's open mail connection, opened on first use or when the kept one is gone."""
    key = _mail_settings()
    conn = getattr(_kept, "conn", None)
    if conn is not None and (
        _kept.key != key or time.monotonic() - _kept.used > MAIL_IDLE_SECONDS or not _alive(conn)
    ):
        drop_mail_connection()
        conn = None
    if conn is None:
        conn = get_connection()
        conn.open()
        _kept.conn, _kept.key = conn, key
    _kept.used = time.monotonic()
    return conn


def _alive(conn) -> bool:
    """Whether a kept connection still answers: an SMTP session gets a NOOP (one round
    trip a chunk, so that a session the server closed fails here, not on a digest, where
    a dropped connection would make its outcome unknown)."""
    session = getattr(conn, "connection", None)
    if session is None or not hasattr(session, "noop"):
        return True
    try:
        return session.noop()[0] == 250
    except Exception:
        return False


def drop_mail_connection() -> None:
    conn = getattr(_kept, "conn", None)
    _kept.conn = None
    if conn is not None:
        try:
            conn.close()
        except Exception as exc:
            log.info("closing the mail connection failed: %s", exc)


def hand_off(to_send: list[Prepared], journal: SendJournal, on_progress: Progress = None) -> HandOff:
    """Render each digest and hand it to the ESP over this worker's kept connection, noting
    each hand-off in the journal. After a transient error the rest of the chunk is released,
    not sent: the ESP is struggling, don't hammer it.

    Over SMTP the server's answer to a digest's data is read only after the next digest is
    rendered (`alerts.digests.wire.hand_over`): the worker renders while the server takes the
    message in, instead of waiting for it. Until that answer is read the digest stays in
    flight in the journal, as while it is being sent."""
    outcome = HandOff()
    if not to_send:
        return outcome
    conn = mail_connection()
    clean = False
    try:
        awaiting: _Awaiting | None = None  # handed over, the server's answer not read yet
        noted = None  # the digest the journal already has in flight
        for n, p in enumerate(to_send):
            if outcome.retry_in is not None:
                outcome.released.append(p.digest)
                continue
            try:
                message = _build(p, conn)
            except Exception as exc:
                noted = _settle(awaiting, None, journal, outcome, on_progress)
                awaiting = None
                _on_send_error(p.digest, exc, outcome)
                continue
            if awaiting is not None:
                noted = _settle(awaiting, p.digest.pk, journal, outcome, on_progress)
                awaiting = None
                if outcome.retry_in is not None:  # that answer was a transient error
                    p.digest.attempts -= 1  # rendered, never handed over
                    outcome.released.append(p.digest)
                    continue
            try:
                if noted != p.digest.pk:
                    journal.begin(p.digest.pk)
                answer = hand_over(conn, message)  # over SMTP, bytes written directly
            except Exception as exc:
                noted = None
                _on_send_error(p.digest, exc, outcome)
                continue
            awaiting = _Awaiting(p.digest, message, answer)
            if answer is None:
                # The hand-off is complete: noted at once, with the next digest's start (if
                # the worker dies before that one is handed over, it becomes unknown).
                following = to_send[n + 1].digest.pk if n + 1 < len(to_send) else None
                noted = _settle(awaiting, following, journal, outcome, on_progress)
                awaiting = None
        _settle(awaiting, None, journal, outcome, on_progress)
        clean = not (outcome.failed or outcome.released or outcome.unknown)
    finally:
        if not clean:
            drop_mail_connection()  # after an error the connection is not trusted again
    return outcome


@dataclass
class _Awaiting:
    digest: Digest
    message: object
    answer: Callable[[], None] | None  # reads the server's answer; None: already complete


def _settle(
    awaiting: _Awaiting | None,
    next_id: int | None,
    journal: SendJournal,
    outcome: HandOff,
    on_progress: Progress,
) -> int | None:
    """Learn the ESP's answer for `awaiting` and note it: sent (in the journal, with digest
    `next_id` as the next in flight, one write for both), or the error. Returns the digest
    the journal now has in flight."""
    if awaiting is None:
        return None
    digest = awaiting.digest
    try:
        if awaiting.answer is not None:
            awaiting.answer()
    except Exception as exc:
        _on_send_error(digest, exc, outcome)
        return None
    digest.esp_message_id = message_id_of(awaiting.message)[:255]
    journal.accepted(digest.pk, digest.esp_message_id, next_id=next_id)
    outcome.sent.append(digest)
    if on_progress:
        on_progress(1)
    return next_id


def _build(p: Prepared, conn):
    """Render and build one digest's message, counting the attempt."""
    digest = p.digest
    links = digest_links(digest, p.subscriber)
    rendered = render(p, links)
    digest.subject = rendered.subject[:255]
    digest.attempts += 1
    return build_message(
        digest=digest,
        subscriber=p.subscriber,
        rendered=rendered,
        unsubscribe=links.unsubscribe_url,
        conn=conn,
    )


def _on_send_error(digest: Digest, exc: Exception, outcome: HandOff) -> None:
    error = send_error_of(digest, exc)
    if error is None:
        outcome.failed.append(digest)
    elif error.unknown:
        # The ESP may have taken it: not sent again until the recovery sweep has looked for
        # the ESP's evidence. The rest of the chunk waits out the back-off, as after any
        # transient error.
        outcome.unknown.append(digest)
        outcome.retry_in = retry_in(digest, error)
    else:
        outcome.released.append(digest)
        outcome.retry_in = retry_in(digest, error)


# Finalise -----------------------------------------------------------------------------------


def finalise(outcome: HandOff, journal: SendJournal) -> None:
    """Record the chunk's outcome in a few bulk statements, then clear its journal entries."""
    if not outcome.done:
        return
    done = timezone.now()
    for digest in outcome.sent:
        digest.status, digest.sent_at, digest.finished_at = Digest.Status.SENT, done, done
        digest.claim_id = None
    for digest in outcome.failed:
        digest.status, digest.finished_at, digest.claim_id = Digest.Status.FAILED, done, None
    mark_unknown(outcome.unknown, now=done)
    schedule_retries(outcome.released, retry_in=outcome.retry_in, now=done)

    def record() -> None:
        with transaction.atomic():
            bulk.update(outcome.done, FINAL_FIELDS)

    _with_db_retry(record, "recording sent digests")
    journal.forget(d.pk for d in outcome.done)


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
