"""Redis (the broker and the send journal) stops for several seconds in the middle of a run.

Redis runs without persistence (`--save ''`, as the compose file's broker does not need
any): when it comes back, every queued task message is gone. The digests are not: their
rows say they are pending, and the recovery sweep queues them again.
"""

from __future__ import annotations

import time

import pytest

from alerts.models import Digest
from alerts.tasks import recover_digests
from tests.fakeesp import Step
from tests.servers import wait_until

from .conftest import FAST, assert_sent_exactly_once, dispatch_and_queue, status_counts

pytestmark = pytest.mark.django_db(transaction=True)


def test_redis_down_for_seconds_mid_run_then_back_empty_every_digest_sent_once(
    celery_workers, esp, redis_server, readers, drained
):
    readers(30)  # six chunks of five
    worker = celery_workers("w", **esp.settings(), **FAST)
    # Seven messages go, the eighth (the second chunk's third) is held open: Redis is
    # stopped while the worker waits on the ESP in the middle of a chunk.
    esp.script(*[Step()] * 7, Step(hold=True))
    ids = dispatch_and_queue()
    assert esp.holding.wait(60), worker.output()

    redis_server.stop()
    down_at = time.monotonic()
    esp.release()
    # The chunk finishes without Redis: the journal falls back to the digest rows, and the
    # database records the five as sent. Acknowledging the task message fails.
    wait_until(lambda: status_counts().get(Digest.Status.SENT) == 10, 30, "the held chunk recorded")
    time.sleep(max(0.0, 5.0 - (time.monotonic() - down_at)))  # several seconds without a broker
    redis_server.start()  # same port, nothing in it: four queued chunks are lost

    wait_until(lambda: "Connected to redis://" in worker.output().split("Cannot connect", 1)[-1], 30)
    drained(esp, rows_final=False)  # the worker is back and idle: nothing left in the queue
    assert status_counts() == {Digest.Status.SENT: 10, Digest.Status.PENDING: 20}
    assert len(esp.accepted) == 10

    recover_digests.delay()  # beat's sweep, every few minutes
    drained(esp)
    assert_sent_exactly_once(esp, ids)
    requeued = Digest.objects.exclude(last_error="")
    assert requeued.count() == 20
    assert {d.last_error for d in requeued} == {
        "queued again by the recovery sweep: no worker had taken it 1 s after it was queued "
        "(its task message may have been lost, e.g. in a broker restart)"
    }
    log = worker.output()
    assert "send journal unavailable" in log  # fell back to the database, and said so
