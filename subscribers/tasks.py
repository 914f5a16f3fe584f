"""Celery tasks of the subscriber side: the emails a sign-up causes.

Each task takes an id, re-reads the subscriber and re-checks its state (they may have
confirmed or unsubscribed since the task was queued), then sends. A mail server that is
down or busy is retried with back-off; an address the server refuses, or a failure that
outlasts the retries, is recorded as an `email_failed` event in the audit trail.
"""

from __future__ import annotations

import logging
from functools import partial

from celery import shared_task

from alerts.core.mailerrors import classify
from subscribers.emails import (
    category_notice_email_send,
    confirmation_email_send,
    email_change_email_send,
    email_changed_notice_send,
    email_taken_notice_send,
    manage_link_email_send,
)
from subscribers.models import Subscriber
from subscribers.services import CONFIRMABLE, subscriber_email_failed

logger = logging.getLogger(__name__)

# Back-off 30 s, 1, 2, 4, 8 min: a mail server restart or a short outage is ridden out.
MAX_RETRIES = 5
RETRY_BASE_SECONDS = 30


def is_transient(exc: BaseException) -> bool:
    """Whether trying again later could succeed (the rule digests use too)."""
    return classify(exc).transient


def _send(task, subscriber_id: int, message: str, wanted: set[str], send) -> str:
    subscriber = Subscriber.objects.filter(pk=subscriber_id).first()
    if subscriber is None or subscriber.status not in wanted:
        return "skipped"
    try:
        send(subscriber=subscriber)
    except Exception as exc:
        if is_transient(exc) and task.request.retries < task.max_retries:
            raise task.retry(exc=exc, countdown=RETRY_BASE_SECONDS * 2**task.request.retries) from exc
        logger.exception("could not send the %s email to subscriber %s", message, subscriber_id)
        subscriber_email_failed(subscriber=subscriber, message=message, reason=f"{type(exc).__name__}: {exc}")
        return "failed"
    return "sent"


@shared_task(bind=True, max_retries=MAX_RETRIES, soft_time_limit=60, time_limit=90)
def send_confirmation_email(self, subscriber_id: int) -> str:
    return _send(self, subscriber_id, "confirmation", CONFIRMABLE, confirmation_email_send)


@shared_task(bind=True, max_retries=MAX_RETRIES, soft_time_limit=60, time_limit=90)
def send_manage_link_email(self, subscriber_id: int) -> str:
    return _send(self, subscriber_id, "manage_link", {Subscriber.Status.ACTIVE}, manage_link_email_send)


@shared_task(bind=True, max_retries=MAX_RETRIES, soft_time_limit=60, time_limit=90)
def send_category_notice_email(self, subscriber_id: int, filter_ids: list[int]) -> str:
    """Queued by subscribers.services.category_notices_queue, once per filter."""
    send = partial(category_notice_email_send, filter_ids=filter_ids)
    return _send(self, subscriber_id, "category_notice", {Subscriber.Status.ACTIVE}, send)


@shared_task(bind=True, max_retries=MAX_RETRIES, soft_time_limit=60, time_limit=90)
def send_email_change_email(self, subscriber_id: int) -> str:
    """The link that confirms a new address, sent to that address (pending_email)."""
    return _send(self, subscriber_id, "email_change", {Subscriber.Status.ACTIVE}, email_change_email_send)


@shared_task(bind=True, max_retries=MAX_RETRIES, soft_time_limit=60, time_limit=90)
def send_email_changed_notice(self, subscriber_id: int, old_email: str) -> str:
    """The notice to the old address after a change, whatever has happened since."""
    send = partial(email_changed_notice_send, old_email=old_email)
    return _send(self, subscriber_id, "email_changed", set(Subscriber.Status), send)


@shared_task(bind=True, max_retries=MAX_RETRIES, soft_time_limit=60, time_limit=90)
def send_email_taken_notice(self, subscriber_id: int) -> str:
    """To the owner of an address another subscriber asked to move to (never a complained one)."""
    wanted = set(Subscriber.Status) - {Subscriber.Status.COMPLAINED}
    return _send(self, subscriber_id, "email_taken", wanted, email_taken_notice_send)
