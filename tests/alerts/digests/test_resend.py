"""An admin sends a digest again: the one deliberate second delivery. A confirmation page,
an audit entry, a new Message-ID, and never to an address that bounced, complained or left.
(The same from a real browser: tests/alerts/digests/test_resend_browser.py.)"""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from alerts.digests.resending import digest_resend_send
from alerts.digests.runner import digests_run
from alerts.models import Digest, DigestResend
from subscribers.models import Subscriber

from .conftest import subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client, django_user_model):
    user = django_user_model.objects.create_superuser("rosa", "rosa@example.org", "pw-for-tests-1")
    client.force_login(user)
    return user


@pytest.fixture
def sent(papers, mailoutbox) -> Digest:
    """Ada's digest of today, sent once through the normal path."""
    subscribe("ada@example.org", ("Diffusion", "diffusion"))
    assert digests_run().sent == 1
    return Digest.objects.get(subscriber__email="ada@example.org", status=Digest.Status.SENT)


def url(digest: Digest) -> str:
    return f"/admin/alerts/digest/{digest.pk}/resend/"


def test_a_sent_digest_is_sent_again_after_confirmation_with_a_new_message_id_and_an_audit_entry(
    client, admin, sent, mailoutbox, django_capture_on_commit_callbacks
):
    first_id = sent.esp_message_id
    page = client.get(url(sent)).content.decode()
    assert "ada@example.org" in page
    assert f"from {sent.period:%a} {sent.period.day} {sent.period:%b} {sent.period.year}" in page
    assert "goes to ada@example.org with a new Message-ID" in page
    assert len(mailoutbox) == 1  # the page alone sends nothing

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(sent), follow=True)
    assert "is on its way again to ada@example.org" in response.content.decode()
    first, second = mailoutbox
    assert second.to == ["ada@example.org"]
    assert second.subject == first.subject
    assert second.body == first.body  # the same papers and the same links
    assert second.extra_headers["Message-ID"] != first.extra_headers["Message-ID"]
    assert second.extra_headers["List-Unsubscribe"] == first.extra_headers["List-Unsubscribe"]
    (resend,) = DigestResend.objects.all()
    assert (resend.digest_id, resend.requested_by, resend.requested_by_name) == (sent.pk, admin, "rosa")
    assert resend.status == DigestResend.Status.SENT
    assert resend.message_id == second.extra_headers["Message-ID"]
    assert resend.requested_at <= resend.sent_at <= timezone.now()
    # The digest stays sent once, with its first Message-ID: the normal path never saw this.
    sent.refresh_from_db()
    assert (sent.status, sent.esp_message_id, sent.attempts) == (Digest.Status.SENT, first_id, 1)
    # The audit entry is on the digest's page.
    page = client.get(f"/admin/alerts/digest/{sent.pk}/change/").content.decode()
    assert "Re-sends (sent again by an admin)" in page
    assert resend.message_id.replace("<", "&lt;").replace(">", "&gt;") in page


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"status": Subscriber.Status.BOUNCED}, "has the status Bounced: a digest is never sent again"),
        ({"status": Subscriber.Status.COMPLAINED}, "has the status Complained: a digest is never sent again"),
        ({"status": Subscriber.Status.UNSUBSCRIBED}, "no longer receives digests (unsubscribed)"),
        ({"paused_at": timezone.now()}, "no longer receives digests (paused)"),
    ],
)
def test_never_to_a_subscriber_who_no_longer_receives(
    client, admin, sent, mailoutbox, django_capture_on_commit_callbacks, change, says
):
    Subscriber.objects.filter(pk=sent.subscriber_id).update(**change)
    page = client.get(url(sent)).content.decode()
    assert says in page
    assert "Yes, send it again" not in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(sent), follow=True)
    assert f"Not sent: ada@example.org {says}" in response.content.decode()
    assert len(mailoutbox) == 1
    assert not DigestResend.objects.exists()


def test_a_subscriber_who_bounces_between_the_request_and_the_send_gets_nothing(
    client, admin, sent, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as queued:
        client.post(url(sent))
    Subscriber.objects.filter(pk=sent.subscriber_id).update(status=Subscriber.Status.BOUNCED)
    for callback in queued:
        callback()
    assert len(mailoutbox) == 1
    (resend,) = DigestResend.objects.all()
    assert resend.status == DigestResend.Status.REFUSED
    assert "bounced" in resend.error


def test_a_double_click_or_a_redelivered_task_sends_one_copy(
    client, admin, sent, mailoutbox, django_capture_on_commit_callbacks, settings
):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url(sent))
        response = client.post(url(sent), follow=True)  # before the first has gone
    assert "Not sent: A re-send of this digest is already on its way." in response.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url(sent), follow=True)  # after it has gone
    assert "Not sent: This digest was re-sent at" in response.content.decode()
    (resend,) = DigestResend.objects.all()
    assert digest_resend_send(resend_id=resend.pk) is None  # the task's message delivered twice
    assert len(mailoutbox) == 2
    settings.DIGEST_RESEND_INTERVAL = 0  # past the interval, an admin may ask again
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url(sent))
    assert len(mailoutbox) == 3
    assert len({m.extra_headers["Message-ID"] for m in mailoutbox}) == 3


def test_a_failed_digest_goes_back_to_the_normal_path(
    client, admin, papers, mailoutbox, django_capture_on_commit_callbacks
):
    subscribe("ada@example.org", ("Diffusion", "diffusion"))
    digests_run()
    digest = Digest.objects.get()
    Digest.objects.filter(pk=digest.pk).update(status=Digest.Status.FAILED, last_error="ESP answered 422")
    page = client.get(url(digest)).content.decode()
    assert "sent as this period's digest, through the normal path" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url(digest))
    digest.refresh_from_db()
    assert digest.status == Digest.Status.SENT
    assert len(mailoutbox) == 2
    assert not DigestResend.objects.exists()


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (Digest.Status.PENDING, "has not been sent yet"),
        (Digest.Status.UNKNOWN, "the recovery sweep settles it"),
        (Digest.Status.SKIPPED, "there is nothing to send again"),
    ],
)
def test_digests_not_sent_or_still_settling_are_not_sent_again(
    client, admin, sent, mailoutbox, django_capture_on_commit_callbacks, status, says
):
    Digest.objects.filter(pk=sent.pk).update(status=status)
    assert says in client.get(url(sent)).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url(sent))
    assert len(mailoutbox) == 1
    assert Digest.objects.get(pk=sent.pk).status == status


def test_it_needs_the_permission_and_a_csrf_token(client, sent, mailoutbox, django_user_model):
    clerk = django_user_model.objects.create_user("clerk", "clerk@example.org", "pw-1", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_digest"))
    client.force_login(clerk)
    assert client.get(url(sent)).status_code == 403
    assert client.post(url(sent)).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="resend_digest"))
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(clerk)
    assert strict.get(url(sent)).status_code == 200
    assert strict.post(url(sent)).status_code == 403  # no CSRF token
    assert len(mailoutbox) == 1
    assert not DigestResend.objects.exists()


def test_a_re_send_whose_task_was_lost_is_settled_and_the_admin_may_ask_again(
    client, admin, sent, mailoutbox, django_capture_on_commit_callbacks, settings
):
    with django_capture_on_commit_callbacks():  # the task message is lost: never delivered
        client.post(url(sent))
    (lost,) = DigestResend.objects.all()
    assert "already on its way" in client.get(url(sent)).content.decode()
    waited = max(settings.DIGEST_SEND_LEASE, settings.DIGEST_RESEND_INTERVAL) + 1
    asked = timezone.now() - dt.timedelta(seconds=waited)
    DigestResend.objects.filter(pk=lost.pk).update(requested_at=asked)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url(sent))
    lost.refresh_from_db()
    assert (lost.status, lost.error) == (
        DigestResend.Status.FAILED,
        "never sent: its task was lost (e.g. a broker restart)",
    )
    assert digest_resend_send(resend_id=lost.pk) is None  # delivered after all: claims nothing
    assert len(mailoutbox) == 2
    assert DigestResend.objects.filter(status=DigestResend.Status.SENT).count() == 1
