"""Digests that did not go out the first time: back-off after a transient ESP error, an
admin's retry of failed digests, and the sweep that takes over the claims of dead workers
and settles hand-offs whose outcome is unknown.

A digest still `sending` after the lease was claimed by a worker that died (a live one
finishes within the task's hard time limit, which the lease exceeds). The send journal
(alerts.digests.journal), or an ESP webhook event naming the digest, says whether the ESP
accepted it: then it is recorded as sent. One the worker was handing over when it died
(in flight) may be at the ESP: it becomes unknown. The others go back to pending.

An unknown digest (its hand-off's answer was lost, or its worker died during it) is sent
again only when no evidence from the ESP (a webhook event naming it) came within
DIGEST_UNKNOWN_GRACE, and then with the same Message-ID. That window is the only one in
which a digest can reach a subscriber twice (docs/reliability.md).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Concat
from django.utils import timezone

from alerts.core.mailerrors import SendError, backoff, classify
from alerts.digests.dispatch import digests_enqueue
from alerts.digests.journal import IN_FLIGHT, SendJournal
from alerts.models import DeliveryEvent, Digest

log = logging.getLogger(__name__)


# Back-off after a failed hand-off ---------------------------------------------------------


def send_error_of(digest: Digest, exc: BaseException) -> SendError | None:
    """What a failed hand-off of `digest` means, noted in its `last_error`: the transient
    error to retry after (with back-off), or None when the digest has failed for good (a
    permanent error, or a transient one after DIGEST_MAX_ATTEMPTS attempts)."""
    error = classify(exc)
    digest.last_error = error.reason
    log.warning("digest %s: %s", digest.pk, error.reason)
    if error.unknown:
        return error  # never "gave up": the ESP may have it; the recovery sweep decides
    if not error.transient:
        return None
    if digest.attempts >= settings.DIGEST_MAX_ATTEMPTS:
        digest.last_error = f"gave up after {digest.attempts} attempts: {error.reason}"
        return None
    return error


def retry_in(digest: Digest, error: SendError) -> float:
    """Seconds until `digest` may go to the ESP again after the transient `error`."""
    return backoff(digest.attempts, error.retry_after)


def schedule_retries(digests: Sequence[Digest], *, retry_in: float | None, now: dt.datetime) -> None:
    """Put released digests back to pending, due `retry_in` seconds from `now` (saved by
    the caller with the rest of the chunk)."""
    next_attempt = now + dt.timedelta(seconds=retry_in or 0)
    for digest in digests:
        digest.status, digest.claim_id, digest.next_attempt_at = Digest.Status.PENDING, None, next_attempt
        digest.queued_at = now


def mark_unknown(digests: Sequence[Digest], *, now: dt.datetime) -> None:
    """The ESP may have accepted these digests but its answer was lost: record them as
    unknown from `now` (saved by the caller with the rest of the chunk)."""
    for digest in digests:
        digest.status, digest.claim_id, digest.unknown_since = Digest.Status.UNKNOWN, None, now
        digest.last_error = f"{digest.last_error} [{UNKNOWN_NOTE}]"


# Noted after the reason: the admin's list shows the start of last_error, and the status
# column already says "Outcome unknown".
UNKNOWN_NOTE = "outcome unknown: the ESP may have accepted it, but its answer was lost"


def _grace_text() -> str:
    minutes, seconds = divmod(settings.DIGEST_UNKNOWN_GRACE, 60)
    return f"{minutes} min" if not seconds else f"{settings.DIGEST_UNKNOWN_GRACE} s"


def digests_retry(*, digest_ids: Sequence[int]) -> int:
    """Send failed digests again (an admin's decision, e.g. after fixing the ESP settings)."""
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


# The recovery sweep -----------------------------------------------------------------------


@dataclass
class RecoveryResult:
    recovered_sent: int = 0
    released: int = 0
    unknown: int = 0  # dead workers' digests that were in flight: now unknown
    reconciled: int = 0  # unknown digests recorded as sent on the ESP's evidence
    resent: int = 0  # unknown digests without evidence after the grace period: pending again
    requeued: list[int] = field(default_factory=list)


def digests_recover(*, now: dt.datetime | None = None) -> RecoveryResult:
    """Take over the claims of dead workers, settle unknown digests from the ESP's
    evidence (or send them again after the grace period), and find pending digests nobody
    is working on."""
    now = now or timezone.now()
    result = RecoveryResult()
    stale = list(
        Digest.objects.filter(
            status=Digest.Status.SENDING,
            claimed_at__lt=now - dt.timedelta(seconds=settings.DIGEST_SEND_LEASE),
        ).values_list("pk", flat=True)
    )
    if stale:
        _take_over(stale, now, result)
    reconcile_unknown(now=now, result=result)
    result.requeued = _requeue_lost(now)
    return result


def accepted_by_esp(stale: Sequence[int], known: dict[int, str]) -> dict[int, str]:
    """{digest id: ESP message id} of the stale digests the ESP accepted, from the journal
    (`known`) and from the ESP's webhook events."""
    accepted = {pk: mid for pk, mid in known.items() if mid != IN_FLIGHT}
    evidence = (
        DeliveryEvent.objects.filter(digest_id__in=stale)
        .exclude(message_id="")
        .values_list("digest_id", "message_id")
    )
    for pk, mid in dict(evidence).items():
        accepted.setdefault(pk, mid)
    return accepted


def _take_over(stale: list[int], now: dt.datetime, result: RecoveryResult) -> None:
    """Record the stale digests the ESP accepted as sent; put the others back to pending."""
    journal = SendJournal()
    known = journal.lookup(stale)
    accepted = accepted_by_esp(stale, known)
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
    # In flight: the worker may have handed it over before it died. Unknown, not resent.
    interrupted = [pk for pk in stale if pk not in accepted and known.get(pk) == IN_FLIGHT]
    result.unknown = Digest.objects.filter(pk__in=interrupted, status=Digest.Status.SENDING).update(
        status=Digest.Status.UNKNOWN,
        claim_id=None,
        unknown_since=now,
        esp_message_id="",  # the journal's "in flight" note, when it was kept in the row
        attempts=F("attempts") + 1,
        last_error=f"the worker stopped while handing this digest to the ESP [{UNKNOWN_NOTE}]",
    )
    unsent = [pk for pk in stale if pk not in accepted and pk not in interrupted]
    result.released = Digest.objects.filter(pk__in=unsent, status=Digest.Status.SENDING).update(
        status=Digest.Status.PENDING, claim_id=None, queued_at=None, next_attempt_at=None
    )
    journal.forget([*accepted, *interrupted])


def reconcile_unknown(*, now: dt.datetime, result: RecoveryResult) -> None:
    """Settle the unknown digests: sent when an ESP webhook event names one (any event: the
    ESP had the message); sent again, with the same Message-ID, when none came within
    DIGEST_UNKNOWN_GRACE of the hand-off (failed instead after DIGEST_MAX_ATTEMPTS)."""
    unknown = list(Digest.objects.filter(status=Digest.Status.UNKNOWN).values_list("pk", flat=True))
    if not unknown:
        return
    evidence: dict[int, tuple[str, str]] = {}
    for pk, message_id, kind in (
        DeliveryEvent.objects.filter(digest_id__in=unknown)
        .order_by("occurred_at", "pk")
        .values_list("digest_id", "message_id", "event_type")
    ):
        evidence.setdefault(pk, (message_id, kind))
    for pk, (message_id, kind) in evidence.items():
        result.reconciled += Digest.objects.filter(pk=pk, status=Digest.Status.UNKNOWN).update(
            status=Digest.Status.SENT,
            esp_message_id=message_id[:255],
            sent_at=now,
            finished_at=now,
            unknown_since=None,
            last_error=Concat(
                F("last_error"),
                Value(f" [recorded as sent by the recovery sweep: the ESP's webhook reported it ({kind})]"),
            ),
        )
    expired = Digest.objects.filter(
        status=Digest.Status.UNKNOWN,
        unknown_since__lte=now - dt.timedelta(seconds=settings.DIGEST_UNKNOWN_GRACE),
    ).exclude(pk__in=list(evidence))
    note = f"no evidence from the ESP within {_grace_text()}"
    Digest.objects.filter(pk__in=expired.filter(attempts__gte=settings.DIGEST_MAX_ATTEMPTS)).update(
        status=Digest.Status.FAILED,
        finished_at=now,
        last_error=Concat(F("last_error"), Value(f" [gave up: the attempt limit is reached, {note}]")),
    )
    result.resent += expired.update(
        status=Digest.Status.PENDING,
        queued_at=None,
        next_attempt_at=None,
        last_error=Concat(F("last_error"), Value(f" [sent again with the same Message-ID: {note}]")),
    )


def _requeue_lost(now: dt.datetime) -> list[int]:
    """Pending digests whose task message is gone (a broker restart, a lost retry): their
    ids, to be queued again, marked as queued now."""
    requeue_before = now - dt.timedelta(seconds=settings.DIGEST_REQUEUE_AFTER)
    due = (
        Digest.objects.filter(status=Digest.Status.PENDING)
        .filter(Q(queued_at__isnull=True) | Q(queued_at__lt=requeue_before))
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    )
    ids = list(due.order_by("pk").values_list("pk", flat=True)[: settings.DIGEST_REQUEUE_BATCH])
    if ids:
        requeued = Digest.objects.filter(pk__in=ids)
        # Said where the admin looks, unless an ESP error already explains the delay.
        requeued.filter(queued_at__isnull=False, last_error="").update(
            last_error="queued again by the recovery sweep: no worker had taken it "
            f"{settings.DIGEST_REQUEUE_AFTER} s after it was queued "
            "(its task message may have been lost, e.g. in a broker restart)"
        )
        requeued.update(queued_at=now)
    return ids
