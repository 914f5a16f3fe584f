"""Sending through anymail's real Postmark backend to a local stand-in for Postmark's API."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from alerts.digests.runner import digests_run
from alerts.models import Digest
from tests.fakeesp import Step
from tests.servers import free_port

from .conftest import subscribe

pytestmark = pytest.mark.django_db


def test_a_digest_is_sent_after_the_esp_answers_500_twice(papers, fake_esp):
    subscriber = subscribe("ada@example.org", ("Diffusion", "diffusion"))
    fake_esp.script(Step(500), Step(500))
    run = digests_run()
    assert run.sent == 1
    digest = Digest.objects.get(subscriber=subscriber)
    assert digest.status == Digest.Status.SENT
    assert digest.attempts == 3
    (accepted,) = fake_esp.accepted
    assert accepted.to == "ada@example.org"
    assert accepted.digest_id == str(digest.pk)
    assert digest.esp_message_id == accepted.message_id  # Postmark's MessageID, for webhooks
    assert accepted.header("List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert accepted.payload["Tag"] == "digest"
    assert accepted.payload["HtmlBody"]
    assert accepted.payload["TextBody"]
    assert fake_esp.attempts == 3


def test_a_permanent_rejection_marks_the_digest_failed_with_the_esps_reason(papers, fake_esp):
    subscribe("ada@example.org", ("Diffusion", "diffusion"))
    subscribe("bob@example.org", ("Attention", "attention"))
    fake_esp.script(Step(422, {"ErrorCode": 300, "Message": "Invalid 'To' address: 'ada@example.org'."}))
    run = digests_run()
    assert (run.sent, run.failed) == (1, 1)
    failed = Digest.objects.get(status=Digest.Status.FAILED)
    assert failed.subscriber.email == "ada@example.org"
    assert "422" in failed.last_error
    assert "Invalid 'To' address" in failed.last_error
    assert failed.attempts == 1  # never retried: the ESP said no
    assert [m.to for m in fake_esp.accepted] == ["bob@example.org"]


def test_429_with_retry_after_is_honoured_then_the_digest_goes(papers, fake_esp, settings):
    subscribe("ada@example.org", ("Diffusion", "diffusion"))
    fake_esp.script(Step(429, {"ErrorCode": 429, "Message": "Rate limit exceeded"}, {"Retry-After": "1"}))
    run = digests_run()
    assert run.sent == 1
    first, second = fake_esp.attempt_times[:2]
    assert second - first >= 0.95  # waited as asked, not the 0.05 s back-off


def test_an_answer_lost_after_the_esp_took_the_message_leaves_it_unknown_never_sent_again(
    papers, fake_esp, admin_client
):
    subscriber = subscribe("ada@example.org", ("Diffusion", "diffusion"))
    fake_esp.script(Step(delay=3))  # accepted; the answer comes after the 1 s read timeout
    run = digests_run()
    assert (run.sent, run.unknown) == (0, 1)
    digest = Digest.objects.get(subscriber=subscriber)
    assert digest.status == Digest.Status.UNKNOWN
    assert digest.unknown_since is not None
    assert digest.last_error.startswith("the ESP did not answer in time")
    assert "may have accepted it" in digest.last_error

    err = StringIO()
    call_command("send_digests", stdout=StringIO(), stderr=err)  # run again: nothing goes
    assert "1 digest(s) with an unknown outcome" in err.getvalue()
    assert fake_esp.by_digest() == {str(digest.pk): 1}

    # The admin finds it by its status, with the reason.
    page = admin_client.get(reverse("admin:alerts_digest_changelist"), {"status__exact": "unknown"}).text
    assert "Outcome unknown" in page
    assert "the ESP did not answer in time" in page


@pytest.mark.parametrize(
    ("step", "reason"),
    [
        (Step(drop=True), "the connection dropped before the ESP answered"),
        (Step(gateway=502), "ESP answered 502 with no answer of its own"),
    ],
)
def test_a_connection_dropped_or_a_gateway_error_after_the_body_is_unknown(papers, fake_esp, step, reason):
    subscribe("ada@example.org", ("Diffusion", "diffusion"))
    fake_esp.script(step)
    run = digests_run()
    assert run.unknown == 1
    digest = Digest.objects.get()
    assert digest.status == Digest.Status.UNKNOWN
    assert digest.last_error.startswith(reason)
    assert len(fake_esp.accepted) == 1


def test_an_esp_that_cannot_be_reached_is_retried_not_left_unknown(papers, fake_esp, settings):
    settings.DIGEST_MAX_ATTEMPTS = 2
    settings.ANYMAIL = {**settings.ANYMAIL, "POSTMARK_API_URL": f"http://127.0.0.1:{free_port()}/"}
    subscribe("ada@example.org", ("Diffusion", "diffusion"))
    run = digests_run()
    assert (run.unknown, run.failed) == (0, 1)  # refused before anything was sent: safe to retry
    digest = Digest.objects.get()
    assert digest.last_error.startswith("gave up after 2 attempts: could not connect to the ESP")


def test_an_esp_down_for_good_leaves_the_digest_failed_with_the_reason(papers, fake_esp, settings):
    settings.DIGEST_MAX_ATTEMPTS = 3
    subscribe("ada@example.org", ("Diffusion", "diffusion"))
    fake_esp.script(*[Step(503)] * 10)
    digests_run()
    digest = Digest.objects.get()
    assert digest.status == Digest.Status.FAILED
    assert digest.last_error.startswith("gave up after 3 attempts: ESP answered 503")
    assert fake_esp.accepted == []


def test_digests_carry_the_configured_esp_options(papers, fake_esp, settings):
    settings.DIGEST_ESP_EXTRA = {"MessageStream": "broadcast"}
    subscribe("ada@example.org", ("Diffusion", "diffusion"))
    digests_run()
    (accepted,) = fake_esp.accepted
    assert accepted.payload["MessageStream"] == "broadcast"
