"""A GDPR erasure from the admin: the person's data goes from every table of the database,
their digests, digest items, delivery events and audit events stay as counts. Another
subscriber's data is left alone; a late ESP event about an erased person's digest is
counted without their address.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from alerts.digests.runner import digests_run
from alerts.models import DeliveryEvent, Digest, DigestItem
from subscribers import tokens
from subscribers.models import Subscriber, SubscriberEvent
from tests.factories import PaperFactory
from tests.fakeesp import Step
from tests.subscribers.helpers import signup_data

from .conftest import WEBHOOK_SECRET, local, post_tracking_event

pytestmark = pytest.mark.django_db

ADA = {
    "email": "Ada.Lovelace@Example.org",
    "ip": "198.51.100.7",
    "name": "Ada Lovelace's thesis on engines",
    "query": "ti:engines",
}


@pytest.fixture
def through_the_esp(settings, esp):
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {
        **settings.ANYMAIL,
        "POSTMARK_SERVER_TOKEN": esp.token,
        "POSTMARK_API_URL": esp.url,
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    settings.DIGEST_MAX_ATTEMPTS = 1
    return esp


def sign_up_and_confirm(client, capture, mailoutbox, email, ip, name, query) -> Subscriber:
    with capture(execute=True):
        client.post("/", signup_data(email=email, filters=[(name, query)]), REMOTE_ADDR=ip)
    subscriber = Subscriber.objects.get(email__iexact=email)
    assert client.post(local(tokens.confirm_url(subscriber))).status_code == 200  # the "Confirm" button
    return subscriber


def webhook(client, payload: dict):
    assert post_tracking_event(client, payload).status_code == 200


def delivery(digest: Digest, email: str, event_id: int) -> dict:
    return {
        "RecordType": "Delivery",
        "ID": event_id,
        "MessageID": digest.esp_message_id,
        "Recipient": email,
        "DeliveredAt": "2026-11-25T10:00:05Z",
        "Details": f"smtp;250 2.0.0 OK: queued for <{email}>",
        "Metadata": {"digest_id": str(digest.pk)},
        "MessageStream": "outbound",
    }


@pytest.fixture
def history(client, through_the_esp, django_capture_on_commit_callbacks, mailoutbox):
    """Ada and Bob sign up and confirm; Ada's first digest is delivered, her second refused
    by the ESP (which names her address); every table that can mention her does."""
    capture = django_capture_on_commit_callbacks
    ada = sign_up_and_confirm(client, capture, mailoutbox, **ADA)
    bob = sign_up_and_confirm(
        client, capture, mailoutbox, "bob@example.org", "203.0.113.9", "Bob's engines", "ti:engines"
    )
    now = timezone.now()
    PaperFactory(title="Difference engines revisited", first_seen_at=now - dt.timedelta(hours=1))
    assert digests_run(now=now).sent == 2
    for n, digest in enumerate(Digest.objects.order_by("pk")):
        webhook(client, delivery(digest, digest.subscriber.email, 100 + n))
    PaperFactory(title="Analytical engines today", first_seen_at=now + dt.timedelta(hours=20))
    refusal = f"Invalid 'To' address: '{ADA['email']}'."
    through_the_esp.script(Step(422, {"ErrorCode": 300, "Message": refusal}))
    later = digests_run(now=now + dt.timedelta(days=1))
    assert (later.sent, later.failed) == (1, 1)
    failed = Digest.objects.get(status=Digest.Status.FAILED)
    assert failed.subscriber == ada
    assert ADA["email"] in failed.last_error
    return ada, bob


def everything_in_the_database() -> str:
    """Every row of every table, as text: what a look at a backup would find."""
    rows = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - table names from the database itself
            rows.extend(f"{table}: {row!r}" for row in cursor.fetchall())
    return "\n".join(rows)


def counts() -> dict[str, int]:
    return {
        "digests": Digest.objects.count(),
        "items": DigestItem.objects.count(),
        "delivery events": DeliveryEvent.objects.count(),
        "audit events": SubscriberEvent.objects.count(),
    }


def erase_in_the_admin(admin_client, subscriber: Subscriber, how: str) -> None:
    if how == "delete page":
        url = reverse("admin:subscribers_subscriber_delete", args=[subscriber.pk])
        response = admin_client.post(url, {"post": "yes"})
    else:
        url = reverse("admin:subscribers_subscriber_changelist")
        response = admin_client.post(
            url, {"action": "delete_selected", "_selected_action": [subscriber.pk], "post": "yes"}
        )
    assert response.status_code == 302


@pytest.mark.parametrize("how", ["delete page", "delete selected action"])
def test_erasing_from_the_admin_leaves_nothing_personal_and_keeps_the_counts(
    client, admin_client, history, how
):
    ada, bob = history
    # As stored, as the ESP wrote it, her IP address, what she named her filter, her links' key.
    traces = [ada.email, ADA["email"], "Ada.Lovelace@", ADA["ip"], ADA["name"], ada.token_secret]
    database = everything_in_the_database()
    assert [trace for trace in traces if trace not in database] == []  # the test looks where they are
    before = counts()
    bob_rows = list(Digest.objects.filter(subscriber=bob).values()), list(bob.events.values())

    erase_in_the_admin(admin_client, ada, how)

    database = everything_in_the_database()
    for trace in traces:
        assert trace not in database, trace
    assert counts() == {**before, "audit events": before["audit events"] + 1}  # + "erased"
    assert SubscriberEvent.objects.filter(kind="erased", subscriber=None).count() == 1
    assert Digest.objects.filter(subscriber=None).count() == 2  # her two digests, as counts
    assert list(Digest.objects.filter(subscriber=bob).values()), list(bob.events.values()) == bob_rows
    assert "bob@example.org" in database  # only hers went

    # A late event from the ESP about one of her digests: counted, without her address.
    digest = Digest.objects.filter(subscriber=None, status=Digest.Status.SENT).get()
    webhook(client, {**delivery(digest, ADA["email"], 999), "RecordType": "Open", "ReceivedAt": "2026-11-26"})
    assert DeliveryEvent.objects.count() == before["delivery events"] + 1
    database = everything_in_the_database()
    for trace in traces:
        assert trace not in database, trace
