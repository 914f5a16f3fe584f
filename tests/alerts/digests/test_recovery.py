"""The recovery sweep, in-process, at fixed instants: dead workers' claims and digests
whose outcome is unknown. (Through real workers and a realistic ESP: tests/faults/.)"""

from __future__ import annotations

import datetime as dt

import pytest

from alerts.digests.dispatch import digests_dispatch
from alerts.digests.journal import SendJournal
from alerts.digests.recovery import digests_recover
from alerts.models import Digest

from .conftest import subscribe

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def claimed_long_ago(settings) -> list[Digest]:
    for n in range(3):
        subscribe(f"reader{n}@example.org", ("Diffusion", "diffusion"))
    digests_dispatch(now=NOW, due_only=False)
    claimed_at = NOW - dt.timedelta(seconds=settings.DIGEST_SEND_LEASE + 1)
    Digest.objects.update(status=Digest.Status.SENDING, claimed_at=claimed_at)
    return list(Digest.objects.order_by("pk"))


def test_without_redis_the_journal_keeps_in_flight_in_the_row_and_recovery_does_not_resend_it(settings):
    settings.REDIS_URL = ""  # no Redis: the journal writes to the digest rows
    sent, in_flight, untouched = claimed_long_ago(settings)
    journal = SendJournal()
    journal.begin(sent.pk)
    journal.accepted(sent.pk, "esp-id-1", next_id=in_flight.pk)  # then the worker died

    result = digests_recover(now=NOW)
    statuses = dict(Digest.objects.values_list("pk", "status"))
    assert statuses == {
        sent.pk: Digest.Status.SENT,
        in_flight.pk: Digest.Status.UNKNOWN,  # may be at the ESP: not sent again blindly
        untouched.pk: Digest.Status.PENDING,
    }
    assert (result.recovered_sent, result.unknown, result.released) == (1, 1, 1)
    in_flight.refresh_from_db()
    assert in_flight.esp_message_id == ""
    assert in_flight.unknown_since == NOW
    assert in_flight.last_error.startswith("the worker stopped while handing this digest to the ESP")


def test_an_unknown_digest_waits_the_whole_grace_period_then_goes_again(settings):
    settings.REDIS_URL = ""
    (digest, *_) = claimed_long_ago(settings)
    Digest.objects.exclude(pk=digest.pk).update(status=Digest.Status.SENT)
    SendJournal().begin(digest.pk)
    digests_recover(now=NOW)
    grace = dt.timedelta(seconds=settings.DIGEST_UNKNOWN_GRACE)

    assert digests_recover(now=NOW + grace - dt.timedelta(seconds=1)).resent == 0
    digest.refresh_from_db()
    assert digest.status == Digest.Status.UNKNOWN

    result = digests_recover(now=NOW + grace)
    assert result.resent == 1
    assert result.requeued == [digest.pk]  # queued in the same sweep
    digest.refresh_from_db()
    assert digest.status == Digest.Status.PENDING
    assert "sent again with the same Message-ID: no evidence from the ESP within 30 min" in digest.last_error


def test_an_unknown_digest_past_the_attempt_limit_is_failed_not_sent_again(settings):
    settings.REDIS_URL = ""
    (digest, *_) = claimed_long_ago(settings)
    Digest.objects.filter(pk=digest.pk).update(
        status=Digest.Status.UNKNOWN, unknown_since=NOW, attempts=settings.DIGEST_MAX_ATTEMPTS
    )
    result = digests_recover(now=NOW + dt.timedelta(seconds=settings.DIGEST_UNKNOWN_GRACE))
    assert result.resent == 0
    digest.refresh_from_db()
    assert digest.status == Digest.Status.FAILED
    assert "gave up: the attempt limit is reached" in digest.last_error
