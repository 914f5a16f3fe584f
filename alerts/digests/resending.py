"""An admin's "send this digest again": the one deliberate second delivery.

A sent digest is sent again as it was (its stored items, the subscriber's own links) with a
new Message-ID, only to a subscriber who still receives digests; a failed digest goes back
to the normal path (alerts.digests.recovery.digests_retry), where it is still this
period's digest. The digest row of a sent digest is not touched: the send claim, the
journal and the recovery sweep never see a re-send, so exactly-once holds for the normal
path. Each re-send is a DigestResend row (the audit entry: who, when, which digest, the new
Message-ID, the outcome), claimed once and handed to the ESP at most once.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.utils import timezone

from alerts.core.jobs import enqueue_on_commit
from alerts.core.mailerrors import classify
from alerts.core.periods import WEEKLY
from alerts.digests import composing
from alerts.digests.composing import paper_row_of
from alerts.digests.messages import build_message, digest_links, message_id_of, resend_message_id
from alerts.digests.recovery import digests_retry
from alerts.digests.rendering import render_digest_direct
from alerts.models import Digest, DigestItem, DigestResend
from subscribers.models import Subscriber

log = logging.getLogger(__name__)

RESEND_TASK = "alerts.tasks.resend_digest"
Status = Digest.Status


@dataclass(frozen=True)
class ResendPlan:
    """What pressing "send again" would do for a digest: `refusal` says why it cannot."""

    digest: Digest
    action: str  # "resend" (a sent digest), "retry" (a failed one), or "" (refused)
    refusal: str = ""


def _subscriber_refusal(subscriber: Subscriber | None) -> str:
    if subscriber is None:
        return "The subscriber of this digest was erased: there is nobody to send it to."
    if subscriber.status in (Subscriber.Status.BOUNCED, Subscriber.Status.COMPLAINED):
        return (
            f"{subscriber.email} has the status {subscriber.get_status_display()}: a digest is never "
            "sent again to an address that bounced or complained."
        )
    if not subscriber.is_receiving:
        state = "paused" if subscriber.paused_at else subscriber.get_status_display().lower()
        return f"{subscriber.email} no longer receives digests ({state}): nothing is sent."
    return ""


IN_FLIGHT = (DigestResend.Status.QUEUED, DigestResend.Status.SENDING)


def _lease_start(now: dt.datetime) -> dt.datetime:
    """A re-send still queued or being sent that was asked for before this moment will never
    finish: its task message was lost, or its worker died (the send lease has passed)."""
    return now - dt.timedelta(seconds=settings.DIGEST_SEND_LEASE)


def _settle_stale(digest: Digest, now: dt.datetime) -> None:
    """Record the re-sends of `digest` that will never finish as failed, so that a late
    delivery of their task message claims nothing and the admin may ask again."""
    stale = digest.resends.filter(requested_at__lt=_lease_start(now))
    stale.filter(status=DigestResend.Status.QUEUED).update(
        status=DigestResend.Status.FAILED, error="never sent: its task was lost (e.g. a broker restart)"
    )
    stale.filter(status=DigestResend.Status.SENDING).update(
        status=DigestResend.Status.FAILED,
        error="the worker stopped while handing it to the ESP: the ESP may have accepted it",
    )


def _digest_refusal(digest: Digest, now: dt.datetime) -> str:
    if digest.status in (Status.PENDING, Status.SENDING):
        return "This digest has not been sent yet: it is on its way through the normal path."
    if digest.status == Status.UNKNOWN:
        return (
            "The outcome of this digest's hand-off is unknown: the recovery sweep settles it "
            "(recorded as sent, or sent again) without anyone's help."
        )
    if digest.status == Status.SKIPPED:
        why = digest.last_error or "nothing to send"
        return f"This digest was skipped ({why}): there is nothing to send again."
    if digest.status == Status.SENT:
        last = digest.resends.order_by("-requested_at").first()
        if last is not None and last.status in IN_FLIGHT and last.requested_at >= _lease_start(now):
            return "A re-send of this digest is already on its way."
        interval = dt.timedelta(seconds=settings.DIGEST_RESEND_INTERVAL)
        if last is not None and last.requested_at > now - interval:
            when = timezone.localtime(last.requested_at)
            minutes = settings.DIGEST_RESEND_INTERVAL // 60
            return (
                f"This digest was re-sent at {when:%Y-%m-%d %H:%M} by {last.requested_by_name}: "
                f"once every {minutes} minutes at most."
            )
    return ""


def digest_resend_plan(*, digest: Digest, now: dt.datetime | None = None) -> ResendPlan:
    """Whether `digest` can be sent again, and how (shown on the confirmation page)."""
    now = now or timezone.now()
    refusal = _subscriber_refusal(digest.subscriber) or _digest_refusal(digest, now)
    if refusal:
        return ResendPlan(digest=digest, action="", refusal=refusal)
    return ResendPlan(digest=digest, action="retry" if digest.status == Status.FAILED else "resend")


@transaction.atomic
def digest_resend_request(*, digest_id: int, user, now: dt.datetime | None = None) -> ResendPlan:
    """An admin confirmed "send again": queue it, and note who asked. The digest row is
    locked while deciding, so two confirmations at once make one re-send."""
    now = now or timezone.now()
    digest = Digest.objects.select_for_update(of=("self",)).select_related("subscriber").get(pk=digest_id)
    plan = digest_resend_plan(digest=digest, now=now)
    if plan.action == "retry":
        digests_retry(digest_ids=[digest.pk])
    elif plan.action == "resend":
        _settle_stale(digest, now)
        resend = DigestResend.objects.create(
            digest=digest, requested_by=user, requested_by_name=user.get_username(), requested_at=now
        )
        resend.message_id = resend_message_id(digest, resend.pk)
        resend.save(update_fields=["message_id"])
        enqueue_on_commit(RESEND_TASK, resend.pk)
    return plan


def _claim(resend_id: int) -> DigestResend | None:
    claimed = DigestResend.objects.filter(pk=resend_id, status=DigestResend.Status.QUEUED).update(
        status=DigestResend.Status.SENDING
    )
    if not claimed:
        return None  # already taken: a redelivered task message sends nothing
    return DigestResend.objects.select_related("digest", "digest__subscriber").get(pk=resend_id)


def _finish(resend: DigestResend, status: str, **fields) -> DigestResend:
    for name, value in {"status": status, **fields}.items():
        setattr(resend, name, value)
    resend.save(update_fields=["status", *fields])
    return resend


def digest_resend_send(*, resend_id: int) -> DigestResend | None:
    """Hand a queued re-send to the ESP, once. The subscriber is checked again: one who
    bounced, complained or left since the admin asked gets nothing (recorded as refused)."""
    resend = _claim(resend_id)
    if resend is None:
        return None
    digest = resend.digest
    subscriber = Subscriber.objects.filter(pk=digest.subscriber_id).first()
    refusal = _subscriber_refusal(subscriber)
    if refusal:
        return _finish(resend, DigestResend.Status.REFUSED, error=refusal)
    try:
        message = _message(digest, subscriber, resend.message_id)
        message.send()
    except Exception as exc:
        # Never retried by itself: the admin sees the reason and may ask again.
        error = classify(exc)
        note = " (the ESP may have accepted it all the same)" if error.unknown else ""
        log.warning("re-send %s of digest %s: %s", resend.pk, digest.pk, error.reason)
        return _finish(resend, DigestResend.Status.FAILED, error=error.reason + note)
    return _finish(
        resend,
        DigestResend.Status.SENT,
        esp_message_id=message_id_of(message)[:255],
        sent_at=timezone.now(),
    )


def _message(digest: Digest, subscriber: Subscriber, message_id: str):
    """The digest as it was sent: its stored items, rendered with the subscriber's links."""
    items = list(DigestItem.objects.filter(digest=digest).select_related("paper").order_by("section", "rank"))
    rows = {item.paper_id: (paper_row_of(item.paper), n) for n, item in enumerate(items)}
    # The extra matches are only counted in an email: their count comes from more_matches.
    composition = composing.composition_from_items(items, digest.window_start, rows.get, digest.more_matches)
    links = digest_links(digest, subscriber)
    rendered = render_digest_direct(
        composition=composition,
        email=subscriber.email,
        filter_names=list(subscriber.filters.filter(is_active=True).values_list("name", flat=True)),
        period=digest.period,
        weekly=digest.frequency == WEEKLY,
        links=links,
    )
    message = build_message(
        digest=digest,
        subscriber=subscriber,
        rendered=rendered,
        unsubscribe=links.unsubscribe_url,
        conn=get_connection(),
        message_id=message_id,
    )
    message.metadata = {**message.metadata, "resend": message_id}
    return message
