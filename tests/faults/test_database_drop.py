"""The database goes away while a worker is handing digests to the ESP.

The ESP has accepted those messages: sending them again would mail people twice. The
worker keeps what it handed over in the send journal (Redis), reconnects and records them
(alerts.digests.sending._with_db_retry); if the database stays away longer than it waits, the
recovery sweep records them from the journal later. Either way nothing goes twice.
"""

from __future__ import annotations

import datetime as dt
import time
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection

from alerts.models import Digest
from alerts.tasks import recover_digests
from tests.conftest import require
from tests.fakeesp import Step
from tests.servers import wait_until

from .conftest import FAST, assert_sent_exactly_once, dispatch_and_queue, status_counts

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def database_outage(postgres_server, uses_postgres):
    """`with database_outage(): ...`: every connection to the test database but this
    test's own is cut, and no new one is let in, until the block ends."""
    require(uses_postgres, "cutting database connections needs PostgreSQL")
    name = connection.settings_dict["NAME"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (ours,) = cursor.fetchone()

    @contextmanager
    def outage():
        with psycopg.connect(postgres_server.url("postgres"), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> %s",
                [name, ours],
            )
            try:
                yield
            finally:
                admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')

    return outage


def send_one_chunk_through_an_outage(celery_workers, esp, readers, database_outage, seconds, **env):
    readers(5)  # one chunk
    esp.script(Step(), Step(), Step(hold=True))  # the third message waits on the ESP
    worker = celery_workers("w", **esp.settings(), **FAST, **env)
    ids = dispatch_and_queue()
    assert esp.holding.wait(60), worker.output()
    with database_outage():
        esp.release()  # the third goes, then the fourth and fifth: the ESP accepts all
        esp.wait_for(5)
        time.sleep(seconds)
    return worker, ids


def test_the_worker_reconnects_and_records_what_the_esp_accepted(
    celery_workers, esp, readers, database_outage, drained
):
    worker, ids = send_one_chunk_through_an_outage(
        celery_workers, esp, readers, database_outage, 3.0, DIGEST_DB_RETRY_DELAYS="0.5,1,1,1,1,1,1"
    )
    drained(esp)
    assert_sent_exactly_once(esp, ids)
    log = worker.output()
    assert "database error while recording sent digests" in log
    assert "reconnecting in" in log


def test_a_longer_outage_is_recorded_later_from_the_send_journal(
    celery_workers, esp, readers, database_outage, drained
):
    # The worker gives up after 0.4 s; the database is back after 3.
    worker, ids = send_one_chunk_through_an_outage(
        celery_workers, esp, readers, database_outage, 3.0, DIGEST_DB_RETRY_DELAYS="0.2,0.2"
    )
    wait_until(lambda: "raised unexpected" in worker.output(), 30, "the chunk to fail")
    assert status_counts() == {Digest.Status.SENDING: 5}  # the claim of a worker that gave up
    claimed_at = max(Digest.objects.values_list("claimed_at", flat=True))
    lease_over = claimed_at + dt.timedelta(seconds=int(FAST["DIGEST_SEND_LEASE"]) + 1)

    recover_digests.delay(now=lease_over.isoformat())
    drained(esp)
    assert_sent_exactly_once(esp, ids)  # recorded with the message ids the journal kept
    assert "recovery: 5 recorded as sent from the journal" in worker.output()
    assert set(Digest.objects.values_list("last_error", flat=True)) == {
        "recorded by the recovery sweep: the worker stopped before recording it, "
        "and the send journal (or an ESP webhook) shows the ESP had accepted it"
    }
