"""The pipeline through real Celery worker processes on a real Redis, exactly once."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from alerts.core.batches import chunked
from alerts.digests.dispatch import digests_dispatch, pending_of_run
from alerts.models import Digest, Paper
from alerts.search.matcher import PaperDoc, PaperIndex, iter_bits
from alerts.tasks import dispatch_due_digests, recover_digests, send_digest_chunk
from tests.conftest import broker_busy, redeliver_abandoned, require
from tests.fakeesp import Step
from tests.outbox import outbox_messages
from tests.servers import wait_until

from .conftest import SITE, make_papers, subscribe

pytestmark = pytest.mark.django_db(transaction=True)

FEED = Path(__file__).resolve().parents[2] / "fixtures" / "sources" / "arxiv_rss_cs.DC_2026-03-04.xml"


def sent_count() -> int:
    return Digest.objects.filter(status=Digest.Status.SENT).count()


def not_yet_due(now: dt.datetime) -> tuple[str, int]:
    """A time zone and a send hour that has not come there yet on the day of `now`."""
    for name in ("Pacific/Honolulu", "America/Los_Angeles", "UTC", "Asia/Tokyo", "Pacific/Kiritimati"):
        hour = now.astimezone(ZoneInfo(name)).hour
        if hour <= 21:
            return name, hour + 1
    raise AssertionError("every candidate time zone is past 21:00")


def test_beat_dispatch_through_a_worker_sends_each_subscriber_what_the_matcher_says(
    celery_workers, outbox_dir, drained
):
    call_command("fetch_papers", "--source", "arxiv-rss", "--file", str(FEED), stdout=StringIO())
    subscribers = [
        subscribe("gpu@example.org", ("GPUs", "gpu"), timezone="America/Los_Angeles", send_hour=0),
        subscribe(
            "numerics@example.org",
            ("Numerics", "cat:math.NA"),
            timezone="Asia/Tokyo",
            send_hour=0,
            frequency="weekly",
        ),
        subscribe(
            "atoms@example.org",
            ("Atomicity", "au:borrill OR ti:atomicity"),
            timezone="Europe/Berlin",
            send_hour=0,
        ),
    ]
    now = timezone.now()  # one instant for the whole test: the dispatch runs as of it too
    tz_name, hour = not_yet_due(now)
    later = subscribe("later@example.org", ("GPUs", "gpu"), timezone=tz_name, send_hour=hour)
    celery_workers("pipeline", SITE_URL=SITE)

    dispatch_due_digests.delay(now=now.isoformat())  # what beat queues every 15 minutes
    drained()
    assert sent_count() == 3
    messages = {m["To"]: m for _, m in outbox_messages()}
    assert set(messages) == {"gpu@example.org", "numerics@example.org", "atoms@example.org"}
    assert not Digest.objects.filter(subscriber=later).exists()

    papers = list(Paper.objects.order_by("pk"))
    index = PaperIndex([PaperDoc(p.title, p.abstract, tuple(p.authors), tuple(p.categories)) for p in papers])
    for subscriber in subscribers:
        message = messages[subscriber.email]
        (query,) = subscriber.filters.values_list("query", flat=True)
        expected = {papers[i].title for i in iter_bits(index.match(query))}
        assert expected, query
        digest = Digest.objects.get(subscriber=subscriber)
        assert set(digest.items.values_list("paper__title", flat=True)) == expected
        assert message.get_content_type() == "multipart/alternative"
        parts = {part.get_content_type(): part.get_content() for part in message.iter_parts()}
        assert set(parts) == {"text/plain", "text/html"}
        for title in expected:
            assert " ".join(title.split()) in parts["text/plain"]
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert str(message["List-Unsubscribe"]).strip().startswith(f"<{SITE}/unsubscribe/")
        assert message["List-Id"]
        assert message["Message-ID"]
        assert message["Subject"].startswith(f"{len(expected)} new paper")
        assert digest.esp_message_id == str(message["Message-ID"]).strip().strip("<>")


def test_two_workers_and_every_chunk_delivered_twice_still_send_each_digest_once(
    celery_workers, esp, drained
):
    make_papers()
    for n in range(40):
        subscribe(f"reader{n}@example.org", ("Diffusion", "diffusion"), ("Attention", "attention"))
    env = {**esp.settings(), "DIGEST_CHUNK_SIZE": "5"}
    celery_workers("one", concurrency=2, **env)
    celery_workers("two", concurrency=2, **env)
    result = digests_dispatch(due_only=False)
    ids = [i for chunk in pending_of_run(result.window_end) for i in chunk]
    for chunk in chunked(ids, 5):
        send_digest_chunk.delay(chunk)
        send_digest_chunk.delay(chunk)  # as if the broker delivered it twice
    dispatch_due_digests.delay()  # and beat's dispatch ran again meanwhile
    drained(esp)  # every task, the duplicates too, has finished
    assert sent_count() == 40
    assert len(esp.accepted) == 40
    assert set(esp.by_digest().values()) == {1}
    assert Digest.objects.count() == 40


def worker_sessions() -> set[tuple[int, dt.datetime]]:
    """(process id, start) of every other PostgreSQL session on this test's database."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        return set(cursor.fetchall())


def test_a_worker_keeps_its_database_session_from_chunk_to_chunk(celery_workers, esp, drained, uses_postgres):
    # A new PostgreSQL session per chunk (a server process, its catalog caches built anew)
    # is work the database would repeat for every chunk of every run.
    require(uses_postgres, "PostgreSQL sessions are what is counted")
    make_papers()
    for n in range(3):
        subscribe(f"reader{n}@example.org", ("Diffusion", "diffusion"))
    others = worker_sessions()  # left by earlier tests, if any
    celery_workers("keeper", **esp.settings())
    result = digests_dispatch(due_only=False)
    first, *rest = [i for chunk in pending_of_run(result.window_end) for i in chunk]
    send_digest_chunk.delay([first])
    drained(esp, rows_final=False)  # the others wait for their own chunks
    workers = worker_sessions() - others
    assert len(workers) == 1, "the worker's session ended with its task"
    for digest_id in rest:
        send_digest_chunk.delay([digest_id])
        drained(esp, rows_final=False)
    assert worker_sessions() - others == workers
    assert sent_count() == 3


def test_a_worker_killed_mid_chunk_and_restarted_sends_every_digest_exactly_once(
    celery_workers, esp_webhooks, settings, drained, redis_server
):
    esp = esp_webhooks
    settings.DIGEST_CHUNK_SIZE = 10
    make_papers()
    for n in range(30):
        subscribe(f"reader{n}@example.org", ("Diffusion", "diffusion"))
    env = {
        **esp.settings(),
        "DIGEST_CHUNK_SIZE": "10",
        "DIGEST_SEND_LEASE": "2",  # a claim older than 2 s belongs to a dead worker
        "CELERY_VISIBILITY_TIMEOUT": "5",  # Redis hands an unacknowledged task out again after 5 s
    }
    # The ESP accepts four messages but holds its answer to the fourth: the worker is
    # waiting on it, in the middle of its first chunk, when it is killed.
    esp.script(Step(), Step(), Step(), Step(hold=True))
    first = celery_workers("doomed", **env)
    result = digests_dispatch(due_only=False)
    for chunk in pending_of_run(result.window_end):
        send_digest_chunk.delay(chunk)
    assert esp.holding.wait(60), "the worker never reached the ESP"
    first.kill()  # SIGKILL: no clean-up, no acknowledgement
    esp.release()
    wait_until(lambda: esp.unanswered == 1, 10, "the held answer found nobody to take it")
    assert len(esp.accepted) == 4  # the fourth too: the ESP had it in full
    claimed = Digest.objects.filter(status=Digest.Status.SENDING)
    assert claimed.count() == 10  # the dead worker's claim

    celery_workers("restarted", **env)
    lease_over = max(claimed.values_list("claimed_at", flat=True)) + dt.timedelta(seconds=3)
    recover_digests.delay(now=lease_over.isoformat())  # what beat runs every 2 minutes
    # The dead worker's task message comes back after the visibility timeout (5 s): the
    # chunk runs again on the restarted worker, and claims nothing.
    wait_until(lambda: redeliver_abandoned(redis_server.url, 5) == 0 and broker_busy(redis_server.url) == 0)
    drained(esp)
    assert sent_count() == 30
    assert len(esp.accepted) == 30
    assert set(esp.by_digest().values()) == {1}
    # The three the journal knew, and the fourth (in flight when the worker died, so the
    # journal could not tell) on the ESP's webhook event, were recorded as sent, not sent
    # again; the other six went for the first time.
    recorded = Digest.objects.filter(last_error__startswith="recorded by the recovery sweep")
    assert recorded.count() == 4
    held = Digest.objects.get(pk=esp.accepted[3].digest_id)
    assert held.status == Digest.Status.SENT
    assert held.esp_message_id == esp.accepted[3].message_id  # only the webhook knew it


def test_a_pending_digest_whose_task_was_lost_is_requeued_by_recovery(celery_workers, esp, settings, drained):
    make_papers()
    subscriber = subscribe("ada@example.org", ("Diffusion", "diffusion"))
    celery_workers("w", **esp.settings(), DIGEST_REQUEUE_AFTER="1")
    settings.DIGEST_REQUEUE_AFTER = 1
    now = timezone.now()
    digests_dispatch(now=now, due_only=False)  # rows made, but no task queued (a broker restart)
    Digest.objects.update(queued_at=now - dt.timedelta(seconds=5))
    recover_digests.delay(now=now.isoformat())
    drained(esp)
    assert sent_count() == 1
    assert esp.by_digest() == {str(Digest.objects.get(subscriber=subscriber).pk): 1}
