"""Sending through anymail's real Postmark backend to a local stand-in for Postmark's API."""

from __future__ import annotations

import pytest

from alerts.digests.runner import digests_run
from alerts.models import Digest
from tests.fakeesp import Step

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


def test_a_timeout_is_retried_and_the_message_goes_once(papers, fake_esp):
    subscriber = subscribe("ada@example.org", ("Diffusion", "diffusion"))
    fake_esp.script(Step(delay=3))  # longer than the 1 s read timeout: the client gives up
    run = digests_run()
    assert run.sent == 1
    assert fake_esp.by_digest() == {str(Digest.objects.get(subscriber=subscriber).pk): 1}


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
