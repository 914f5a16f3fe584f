"""Fixtures of the fault tests: real workers on a private Redis, a fake ESP, subscribers.

Each fault test starts the real parts (the suite's PostgreSQL, a Redis of its own that it
may stop and start again, Celery worker processes) and injects one fault while they work.
"""

from __future__ import annotations

import pytest
from django.db.models import Count

from alerts.digests.dispatch import digests_dispatch, digests_enqueue, pending_of_run
from alerts.models import Digest
from tests.alerts.digests.conftest import make_papers, subscribe
from tests.conftest import running_redis

# Worker settings every fault test shares: quick back-off, small chunks, and a recovery
# sweep that takes over what looks lost after a second or two (production: minutes).
FAST = {
    "DIGEST_CHUNK_SIZE": "5",
    "DIGEST_RETRY_BASE": "0.2",
    "DIGEST_RETRY_MAX": "1",
    "DIGEST_REQUEUE_AFTER": "1",
    "DIGEST_SEND_LEASE": "2",
    "CELERY_VISIBILITY_TIMEOUT": "30",
    "SITE_URL": "https://alerts.example.org",
}


@pytest.fixture(autouse=True)
def same_settings_here(settings):
    """This process dispatches and queues: it chunks as the workers do."""
    settings.DIGEST_CHUNK_SIZE = int(FAST["DIGEST_CHUNK_SIZE"])
    settings.DIGEST_REQUEUE_AFTER = int(FAST["DIGEST_REQUEUE_AFTER"])


@pytest.fixture
def redis_server():
    """A private Redis for each fault test (the suite's shared one is never stopped)."""
    yield from running_redis()


@pytest.fixture
def readers(transactional_db):
    """`readers(n)`: the day's papers and n active subscribers whose filter matches some."""

    def make(count: int) -> list:
        make_papers()
        return [subscribe(f"reader{n}@example.org", ("Diffusion", "diffusion")) for n in range(count)]

    return make


def dispatch_and_queue() -> list[int]:
    """What beat's dispatch (every 15 minutes) does: digest rows for everyone due, queued in chunks."""
    result = digests_dispatch(due_only=False)
    ids = [pk for chunk in pending_of_run(result.window_end) for pk in chunk]
    digests_enqueue(ids)  # autocommit: the chunks are published at once
    return ids


def status_counts() -> dict[str, int]:
    return dict(Digest.objects.values_list("status").annotate(n=Count("id")).order_by())


def assert_sent_exactly_once(esp, digest_ids: list[int]) -> None:
    """Every digest sent, the ESP accepted each exactly once, and the rows say so."""
    assert status_counts() == {Digest.Status.SENT: len(digest_ids)}
    assert esp.by_digest() == {str(pk): 1 for pk in digest_ids}
    accepted = {m.digest_id: m.message_id for m in esp.accepted}
    recorded = dict(Digest.objects.values_list("pk", "esp_message_id"))
    assert {str(pk): mid for pk, mid in recorded.items()} == accepted


def sweep(now=None) -> None:
    """Beat's recovery sweep (alerts.tasks.recover_digests), run here with a fixed `now`
    (a moment after the grace period, say) instead of waiting for the clock; what it
    requeues goes to the workers."""
    from alerts.tasks import recover_digests

    recover_digests.apply(kwargs={"now": now.isoformat()} if now else {})
