"""The ESP has a bad hour in the middle of a run through real workers: it times out, answers
500, answers 429 with Retry-After, then recovers. Each failure is recorded on the digest
it hit; every digest goes exactly once.

(Each failure alone, in-process: tests/alerts/digests/test_esp.py.)
"""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from alerts.models import Digest
from tests.fakeesp import Step
from tests.servers import wait_until

from .conftest import FAST, assert_sent_exactly_once, dispatch_and_queue, status_counts

pytestmark = pytest.mark.django_db(transaction=True)

RETRY_AFTER = 2


def test_timeout_500_and_429_in_one_run_then_every_digest_sent_once(
    celery_workers, esp, readers, admin_client
):
    readers(15)  # three chunks of five
    # The chunks run one after the other; each meets one failure on its first message,
    # puts itself back (the rest of the chunk untried: the ESP is struggling) and retries.
    esp.script(
        Step(delay=3),  # longer than the 1 s read timeout: the worker gives up waiting
        Step(500, {"ErrorCode": 500, "Message": "Internal server error"}),
        Step(429, {"ErrorCode": 429, "Message": "Rate limit exceeded"}, {"Retry-After": str(RETRY_AFTER)}),
    )
    worker = celery_workers("w", **esp.settings(), **FAST, ANYMAIL_REQUESTS_TIMEOUT="2,1")
    ids = dispatch_and_queue()

    wait_until(lambda: status_counts().get(Digest.Status.SENT) == 15, 60, f"15 sent:\n{worker.output()}")
    time.sleep(1.0)  # a duplicate would have arrived by now
    assert_sent_exactly_once(esp, ids)
    assert (esp.attempts, esp.refused, esp.dropped) == (18, 2, 1)  # 15 accepted, 3 failed

    first = [Digest.objects.get(pk=pk) for pk in ids[::5]]  # the first digest of each chunk
    assert [d.attempts for d in first] == [2, 2, 2]
    timeout, error500, error429 = (d.last_error for d in first)
    assert timeout.startswith("the ESP did not answer in time: ")
    assert "Read timed out" in timeout
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
