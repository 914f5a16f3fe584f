"""An unsubscribe or a suppression is never undone behind the person's back: not by signing
up again (as anyone who knows the address can), the resend form, an old confirmation link,
the preferences page, ESP events about old digests, or the service an import would call.
Only a confirmation sent after the stop brings the address back (never after a complaint).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.digests.dispatch import digests_dispatch
from alerts.digests.runner import digests_run
from alerts.models import Digest
from subscribers import tokens
from subscribers.models import Subscriber
from tests.factories import PaperFactory
from tests.subscribers.conftest import links_in
from tests.subscribers.helpers import preferences_data, signup_data

from .conftest import WEBHOOK_SECRET, local, post_tracking_event, subscribe_by_service

pytestmark = pytest.mark.django_db

Status = Subscriber.Status
FILTERS = [("Engines", "ti:engines")]


def esp_event(client, record: dict) -> None:
    assert post_tracking_event(client, record).status_code == 200


def event(digest: Digest, record_type: str, event_id: int, **extra) -> dict:
    return {
        "RecordType": record_type,
        "ID": event_id,
        "MessageID": digest.esp_message_id or "m-1",
        "Email": "ada@example.org",
        "Recipient": "ada@example.org",
        "Metadata": {"digest_id": str(digest.pk)},
        "MessageStream": "outbound",
        **extra,
    }


def one_click(client, ada):
    client.post(local(tokens.unsubscribe_url(ada)), {"List-Unsubscribe": "One-Click"})


def hard_bounce(client, ada):
    esp_event(
        client, event(Digest.objects.get(), "Bounce", 1, Type="HardBounce", BouncedAt="2026-11-25T10:00:00Z")
    )


def complaint(client, ada):
    esp_event(client, event(Digest.objects.get(), "SpamComplaint", 2, Type="SpamComplaint"))


def admin_suppression(client, ada, admin_client):
    url = reverse("admin:subscribers_subscriber_changelist")
    admin_client.post(url, {"action": "suppress_bounced", "_selected_action": [ada.pk]})


STOPS = {
    "unsubscribed in one click": (one_click, Status.UNSUBSCRIBED),
    "hard bounce from the ESP": (hard_bounce, Status.BOUNCED),
    "spam complaint to the ESP": (complaint, Status.COMPLAINED),
    "suppressed by an admin": (admin_suppression, Status.BOUNCED),
}


def receives_digests(ada, days_later: int) -> bool:
    """Whether a dispatch that many days later makes her a digest: what decides if mail goes out."""
    result = digests_dispatch(now=timezone.now() + dt.timedelta(days=days_later), due_only=False)
    return Digest.objects.filter(subscriber=ada, window_end=result.window_end).exists()


@pytest.mark.parametrize("stop", list(STOPS))
def test_a_stopped_address_comes_back_only_through_a_fresh_confirmation(
    stop, client, admin_client, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": WEBHOOK_SECRET}
    capture = django_capture_on_commit_callbacks
    PaperFactory(title="Difference engines revisited")
    with capture(execute=True):
        client.post("/", signup_data(email="ada@example.org", filters=FILTERS))
    (first,) = mailoutbox
    old_confirmation = links_in(first)["confirm"]
    client.post(old_confirmation)  # the page's "Confirm" button
    ada = Subscriber.objects.get()
    assert digests_run().sent == 1  # an old digest, which ESP events can name
    stopping, stopped = STOPS[stop]
    args = (client, ada, admin_client) if stop == "suppressed by an admin" else (client, ada)
    stopping(*args)
    ada.refresh_from_db()
    assert ada.status == stopped
    # The admin sees the change in her history: what happened, who did it.
    last = ada.events.order_by("-id").first()
    page = admin_client.get(reverse("admin:subscribers_subscriber_change", args=[ada.pk])).text
    shown = re.search(r'field-kind">\s*<p>([^<]+)</p>.*?field-actor">\s*<p>([^<]+)</p>', page, re.S)
    assert shown.groups() == (last.get_kind_display(), last.get_actor_display())
    mailoutbox.clear()

    # What anyone, or a process working from old data, might do next.
    with capture(execute=True):
        client.post("/", signup_data(email="ADA@Example.org", filters=FILTERS))  # a stranger signs her up
        client.post("/resend/", {"email": "ada@example.org"})
    assert client.get(old_confirmation).status_code == 404  # issued before the stop
    assert client.post(old_confirmation).status_code == 404
    manage = local(tokens.manage_url(ada))
    client.post(manage, {"action": "resume"})
    client.post(manage, preferences_data(FILTERS, send_hour="9"))
    digest = Digest.objects.get()
    for n, kind in enumerate(("Delivery", "Open", "Click"), start=10):
        esp_event(client, event(digest, kind, n, DeliveredAt="2026-11-25T10:00:05Z"))
    subscribe_by_service("ada@example.org", "Imported", "ti:engines")  # what an import would call
    ada.refresh_from_db()
    assert ada.status == stopped
    assert not receives_digests(ada, days_later=1)

    confirmations = [m for m in mailoutbox if "confirm" in links_in(m)]
    if stopped == Status.COMPLAINED:
        assert confirmations == []  # nothing is sent to an address that complained
        return
    assert client.post(links_in(confirmations[-1])["confirm"]).status_code == 200  # her own, fresh click
    ada.refresh_from_db()
    assert ada.status == Status.ACTIVE
    assert receives_digests(ada, days_later=2)
