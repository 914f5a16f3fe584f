"""ESP feedback through anymail's Postmark tracking webhook, protected by its secret."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from urllib.parse import unquote

import pytest

from alerts.digests.messages import digest_message_id
from alerts.digests.recovery import digests_recover
from alerts.digests.runner import digests_run
from alerts.digests.webhooks import inbound_unsubscribe
from alerts.models import DeliveryEvent, Digest
from subscribers import tokens
from subscribers.models import Subscriber, SubscriberEvent, new_token_secret
from tests.factories import SubscriberFactory

from .conftest import subscribe

pytestmark = pytest.mark.django_db

URL = "/anymail/postmark/tracking/"
SECRET = "hook:s3cret-webhook-password"


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": SECRET}


def post(client, payload: dict, credentials: str | None = SECRET):
    headers = {}
    if credentials:
        headers["HTTP_AUTHORIZATION"] = "Basic " + base64.b64encode(credentials.encode()).decode()
    return client.post(URL, data=json.dumps(payload), content_type="application/json", **headers)


@pytest.fixture
def sent_digest(papers, mailoutbox):
    subscriber = subscribe("ada@example.org", ("Diffusion", "diffusion"))
    digests_run()
    return Digest.objects.get(subscriber=subscriber)


def bounce(digest: Digest, event_id: int = 4323372036854775807, kind: str = "HardBounce") -> dict:
    return {
        "RecordType": "Bounce",
        "ID": event_id,
        "Type": kind,
        "TypeCode": 1,
        "Name": "Hard bounce",
        "Tag": "digest",
        "MessageID": digest.esp_message_id,
        "Metadata": {"digest_id": str(digest.pk)},
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": "ada@example.org",
        "From": "alerts@localhost",
        "BouncedAt": "2026-11-25T10:00:00Z",
        "Inactive": True,
        "CanActivate": True,
        "Subject": digest.subject,
        "MessageStream": "outbound",
    }


def test_a_hard_bounce_suppresses_the_subscriber_once(client, sent_digest):
    assert post(client, bounce(sent_digest)).status_code == 200
    assert post(client, bounce(sent_digest)).status_code == 200  # the ESP retried its webhook
    subscriber = Subscriber.objects.get(email="ada@example.org")
    assert subscriber.status == Subscriber.Status.BOUNCED
    assert DeliveryEvent.objects.count() == 1  # the same event twice counts once
    assert (
        SubscriberEvent.objects.filter(subscriber=subscriber, kind=SubscriberEvent.Kind.BOUNCED).count() == 1
    )
    event = DeliveryEvent.objects.get()
    assert (event.event_type, event.digest_id) == ("bounced", sent_digest.pk)
    sent_digest.refresh_from_db()
    assert sent_digest.delivery_status == "bounced"
    # Suppressed: tomorrow's run sends nothing to this address.
    assert digests_run().sent == 0


def test_a_soft_bounce_is_recorded_but_suppresses_nothing(client, sent_digest):
    assert post(client, bounce(sent_digest, kind="SoftBounce")).status_code == 200
    assert Subscriber.objects.get(email="ada@example.org").status == Subscriber.Status.ACTIVE
    assert DeliveryEvent.objects.get().event_type == "deferred"


def test_a_complaint_suppresses_the_subscriber_as_complained(client, sent_digest):
    payload = {
        "RecordType": "SpamComplaint",
        "ID": 42,
        "Type": "SpamComplaint",
        "TypeCode": 512,
        "MessageID": sent_digest.esp_message_id,
        "Metadata": {"digest_id": str(sent_digest.pk)},
        "Email": "ada@example.org",
        "BouncedAt": "2026-11-25T11:00:00Z",
        "Description": "The subscriber explicitly marked this message as spam.",
        "MessageStream": "outbound",
    }
    assert post(client, payload).status_code == 200
    subscriber = Subscriber.objects.get(email="ada@example.org")
    assert subscriber.status == Subscriber.Status.COMPLAINED
    # A later hard bounce does not turn a complaint into a mere bounce.
    post(client, bounce(sent_digest, event_id=43))
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.COMPLAINED


def test_delivery_events_without_an_event_id_are_still_counted_once(client, sent_digest):
    payload = {
        "RecordType": "Delivery",
        "MessageID": sent_digest.esp_message_id,
        "Recipient": "ada@example.org",
        "DeliveredAt": "2026-11-25T10:00:05Z",
        "Details": "Test delivery webhook details",
        "Tag": "digest",
        "Metadata": {"digest_id": str(sent_digest.pk)},
        "MessageStream": "outbound",
    }
    post(client, payload)
    post(client, payload)
    assert DeliveryEvent.objects.filter(event_type="delivered").count() == 1
    sent_digest.refresh_from_db()
    assert sent_digest.delivery_status == "delivered"


def test_an_unsubscribe_at_the_esp_unsubscribes_here(client, sent_digest):
    payload = {
        "RecordType": "SubscriptionChange",
        "MessageID": sent_digest.esp_message_id,
        "ChangedAt": "2026-11-25T12:00:00Z",
        "Recipient": "ada@example.org",
        "Origin": "Recipient",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "Tag": "digest",
        "Metadata": {"digest_id": str(sent_digest.pk)},
        "MessageStream": "outbound",
    }
    assert post(client, payload).status_code == 200
    assert Subscriber.objects.get(email="ada@example.org").status == Subscriber.Status.UNSUBSCRIBED


@pytest.mark.parametrize("credentials", [None, "hook:wrong-password", "other:s3cret-webhook-password"])
def test_a_webhook_call_with_wrong_or_missing_credentials_is_refused_and_changes_nothing(
    client, sent_digest, credentials
):
    response = post(client, bounce(sent_digest), credentials=credentials)
    assert response.status_code in (400, 401, 403)
    assert DeliveryEvent.objects.count() == 0
    assert Subscriber.objects.get(email="ada@example.org").status == Subscriber.Status.ACTIVE


def inbound(subject: str) -> dict:
    return {
        "FromFull": {"Email": "someone@example.net", "Name": "Someone"},
        "ToFull": [{"Email": "alerts@localhost", "Name": ""}],
        "Subject": subject,
        "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
        "TextBody": "",
        "Headers": [],
    }


def test_mail_to_the_list_unsubscribe_address_with_the_token_unsubscribes(client, sent_digest, mailoutbox):
    (message,) = mailoutbox
    mailto = re.search(r"<mailto:([^?]+)\?subject=([^>]+)>", message.extra_headers["List-Unsubscribe"])
    subject = unquote(mailto.group(2))
    assert subject.startswith("unsubscribe ")
    response = client.post(
        "/anymail/postmark/inbound/",
        data=json.dumps(inbound("Re: " + subject)),
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(SECRET.encode()).decode(),
    )
    assert response.status_code == 200
    subscriber = Subscriber.objects.get(email="ada@example.org")
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    event = SubscriberEvent.objects.filter(
        subscriber=subscriber, kind=SubscriberEvent.Kind.UNSUBSCRIBED
    ).get()
    assert event.detail["reason"] == "asked by email (List-Unsubscribe mailto)"


@pytest.mark.parametrize(
    "subject", ["unsubscribe", "unsubscribe 1", "unsubscribe 1.AAAAAAAAAAAAAAAAAAAAAAAAAAA", "please stop"]
)
def test_mail_without_a_valid_token_unsubscribes_nobody(client, sent_digest, subject):
    response = client.post(
        "/anymail/postmark/inbound/",
        data=json.dumps(inbound(subject)),
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(SECRET.encode()).decode(),
    )
    assert response.status_code == 200
    assert Subscriber.objects.get(email="ada@example.org").status == Subscriber.Status.ACTIVE


def test_a_token_whose_signature_ends_in_a_dash_unsubscribes_by_mail_too(db):
    """URL-safe base64 ends in "-" for one token in 64: the subject is still read."""
    subscriber = SubscriberFactory(email="ada@example.org")
    while not (token := tokens.make_token(subscriber, tokens.UNSUBSCRIBE)).endswith("-"):
        subscriber.unsubscribe_secret = new_token_secret()  # the secret unsubscribe links use
        subscriber.save(update_fields=["unsubscribe_secret"])
    assert inbound_unsubscribe(subject=f"Re: unsubscribe {token}") == subscriber
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED


def test_an_event_that_names_only_our_message_id_settles_a_digest_whose_outcome_was_unknown(
    client, sent_digest
):
    # The ESP's answer (and with it its own message id) was lost; its event carries the
    # Message-ID header we set, and no metadata.
    lost_at = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)
    Digest.objects.filter(pk=sent_digest.pk).update(
        status=Digest.Status.UNKNOWN, esp_message_id="", unknown_since=lost_at
    )
    our_id = digest_message_id(sent_digest).strip("<>")
    payload = {
        "RecordType": "Delivery",
        "MessageID": our_id,
        "Recipient": "ada@example.org",
        "DeliveredAt": "2026-11-25T10:00:05Z",
        "Details": "Test delivery webhook details",
        "MessageStream": "outbound",
    }
    assert post(client, payload).status_code == 200
    assert DeliveryEvent.objects.get().digest_id == sent_digest.pk

    result = digests_recover(now=lost_at + dt.timedelta(minutes=1))
    assert result.reconciled == 1
    sent_digest.refresh_from_db()
    assert (sent_digest.status, sent_digest.esp_message_id) == (Digest.Status.SENT, our_id)


def test_an_event_with_a_message_id_that_only_looks_like_ours_names_no_digest(client, sent_digest):
    payload = {
        "RecordType": "Delivery",
        "MessageID": f"digest-{sent_digest.pk}.123@alerts.example.org",  # not its creation instant
        "Recipient": "nobody@example.net",
        "DeliveredAt": "2026-11-25T10:00:05Z",
        "MessageStream": "outbound",
    }
    assert post(client, payload).status_code == 200
    assert DeliveryEvent.objects.get().digest_id is None
