"""The ESP has a bad hour in the middle of a run through real workers, and behaves like a
real ESP throughout: a request it has received in full is accepted, even when its answer
never reaches the worker (a read timeout, a connection dropped after the body was sent).

Each failure is recorded on the digest it hit. A send whose outcome is unknown is not sent
again blindly: the recovery sweep records it as sent when the ESP's webhook reports it, and
sends it again, with the same Message-ID, only when no evidence came within the grace period.
Every digest reaches the ESP exactly once, counted at the ESP, except in that one named
window (the last test).

(Each failure alone, in-process: tests/alerts/digests/test_esp.py.)
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from alerts.models import Digest
from tests.fakeesp import Step

from .conftest import FAST, assert_sent_exactly_once, dispatch_and_queue, status_counts, sweep

pytestmark = pytest.mark.django_db(transaction=True)

RETRY_AFTER = 2
SHORT_READ_TIMEOUT = {"ANYMAIL_REQUESTS_TIMEOUT": "2,1"}  # connect 2 s, read 1 s


def test_timeout_500_and_429_in_one_run_then_every_digest_sent_once(
    celery_workers, esp_webhooks, readers, admin_client, drained
):
    esp = esp_webhooks
    readers(15)  # three chunks of five
    # The chunks run one after the other; each meets one failure on its first message,
    # puts itself back (the rest of the chunk untried: the ESP is struggling) and retries.
    esp.script(
        Step(delay=3),  # accepted, answered after 3 s: the worker stopped waiting after 1 s
        Step(500, {"ErrorCode": 500, "Message": "Internal server error"}),
        Step(429, {"ErrorCode": 429, "Message": "Rate limit exceeded"}, {"Retry-After": str(RETRY_AFTER)}),
    )
    worker = celery_workers("w", **esp.settings(), **FAST, **SHORT_READ_TIMEOUT)
    ids = dispatch_and_queue()

    drained(esp, rows_final=False)
    sweep()  # beat's recovery sweep: the ESP's webhook says it took the timed-out one
    drained(esp)
    assert_sent_exactly_once(esp, ids)
    assert (esp.attempts, esp.refused, esp.unanswered) == (17, 2, 1), worker.output()

    first = [Digest.objects.get(pk=pk) for pk in ids[::5]]  # the first digest of each chunk
    assert [d.attempts for d in first] == [1, 2, 2]
    timeout, error500, error429 = (d.last_error for d in first)
    assert "the ESP did not answer in time" in timeout
    assert "Read timed out" in timeout
    assert "the ESP's webhook reported it" in timeout
    assert error500.startswith("ESP answered 500: ")
    assert "Internal server error" in error500
    assert error429.startswith("ESP answered 429: ")
    assert "Rate limit exceeded" in error429
    assert Digest.objects.exclude(pk__in=[d.pk for d in first]).filter(last_error="").count() == 12

    # Retry-After was honoured: the third chunk waited for it, not for the short back-off.
    answered_429 = esp.attempt_times[2]
    third_again = esp.attempt_times[-5]  # the third chunk's five messages go last
    assert third_again - answered_429 >= RETRY_AFTER - 0.05

    # An admin sees each reason in the digest list.
    page = admin_client.get(reverse("admin:alerts_digest_changelist")).text
    for reason in ("the ESP did not answer in time", "ESP answered 500", "ESP answered 429"):
        assert reason in page


def test_a_connection_dropped_after_the_body_is_recorded_from_the_esps_webhook(
    celery_workers, esp_webhooks, readers, drained
):
    esp = esp_webhooks
    readers(5)  # one chunk
    esp.script(Step(), Step(drop=True))  # the second is accepted; its answer never comes
    worker = celery_workers("w", **esp.settings(), **FAST)
    ids = dispatch_and_queue()

    drained(esp, rows_final=False)
    dropped = Digest.objects.get(pk=ids[1])
    assert dropped.status == Digest.Status.UNKNOWN, worker.output()
    assert "may have accepted it" in dropped.last_error
    sweep()
    drained(esp)
    assert_sent_exactly_once(esp, ids)
    assert esp.unanswered == 1
    dropped.refresh_from_db()
    assert dropped.esp_message_id == esp.accepted[1].message_id  # from the webhook event


def test_a_timeout_before_the_esp_read_the_request_is_sent_again_after_the_grace_period(
    celery_workers, esp, readers, drained, settings
):
    readers(5)
    esp.script(Step(stall=3))  # the ESP never takes the first message; no evidence will come
    worker = celery_workers("w", **esp.settings(), **FAST, **SHORT_READ_TIMEOUT)
    ids = dispatch_and_queue()
    drained(esp, rows_final=False)
    unknown = Digest.objects.get(pk=ids[0])
    assert unknown.status == Digest.Status.UNKNOWN, worker.output()
    assert status_counts() == {Digest.Status.SENT: 4, Digest.Status.UNKNOWN: 1}
    assert esp.dropped == 1

    grace = dt.timedelta(seconds=settings.DIGEST_UNKNOWN_GRACE)
    sweep(now=unknown.unknown_since + grace - dt.timedelta(seconds=1))  # within the grace period
    drained(esp, rows_final=False)
    assert status_counts() == {Digest.Status.SENT: 4, Digest.Status.UNKNOWN: 1}  # still waiting

    sweep(now=unknown.unknown_since + grace + dt.timedelta(seconds=1))
    drained(esp)
    assert_sent_exactly_once(esp, ids)
    unknown.refresh_from_db()
    assert unknown.attempts == 2
    assert "sent again" in unknown.last_error


def test_the_named_window_an_accepted_message_without_evidence_goes_again_with_its_message_id(
    celery_workers, esp, readers, drained, settings
):
    """The one case the promise excludes: the ESP took the message, its answer was lost, and
    no webhook reported it within the grace period (here: webhooks are not configured)."""
    readers(1)
    esp.script(Step(delay=3))
    worker = celery_workers("w", **esp.settings(), **FAST, **SHORT_READ_TIMEOUT)
    (digest_id,) = dispatch_and_queue()
    drained(esp, rows_final=False)
    digest = Digest.objects.get(pk=digest_id)
    assert digest.status == Digest.Status.UNKNOWN, worker.output()
    assert len(esp.accepted) == 1

    sweep(now=digest.unknown_since + dt.timedelta(seconds=settings.DIGEST_UNKNOWN_GRACE + 1))
    drained(esp)
    assert status_counts() == {Digest.Status.SENT: 1}
    first, second = esp.accepted
    assert first.header("Message-ID") == second.header("Message-ID")  # a reader's client may fold them
    assert first.header("Message-ID").startswith(f"<digest-{digest_id}.")
