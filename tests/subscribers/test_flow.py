"""The whole life of a subscription through the pages a person uses."""

import re

import pytest
from django.test import Client

from subscribers import tokens
from subscribers.models import Subscriber, SubscriberEvent
from tests.subscribers.conftest import html_part, links_in
from tests.subscribers.helpers import preferences_data, signup_data

pytestmark = pytest.mark.django_db


def test_sign_up_confirm_change_a_filter_and_unsubscribe_in_one_click(
    client, outbox, django_capture_on_commit_callbacks
):
    page = client.get("/")
    assert page.status_code == 200
    assert 'placeholder="e.g. ti:&quot;large language model&quot; AND cat:cs.CL"' in page.text

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/", signup_data("Ada@Example.ORG", [("Sparse attention", 'abs:"sparse attention"')])
        )
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    assert "Ada@example.org" in response.text
    subscriber = Subscriber.objects.get()
    assert subscriber.email == "Ada@example.org"
    assert subscriber.status == Subscriber.Status.PENDING
    assert subscriber.timezone == "Europe/Berlin"

    # The confirmation email: both parts, a link built from SITE_URL.
    (message,) = outbox
    assert message.to == ["Ada@example.org"]
    assert message.subject == "Confirm your subscription to Paper alerts"
    # What was typed is shown on the confirmation page, never in the email (a stranger
    # may have typed this address).
    assert "sparse attention" not in message.body
    assert "sparse attention" not in html_part(message)
    confirm_path = links_in(message)["confirm"]
    assert f"https://alerts.example.org{confirm_path}" in html_part(message)

    confirm_page = client.get(confirm_path).text
    assert "Confirm my subscription" in confirm_page
    assert "abs:&quot;sparse attention&quot;" in confirm_page
    confirmed = client.post(confirm_path)
    assert confirmed.status_code == 200
    assert "You are subscribed" in confirmed.text
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE
    assert subscriber.confirmed_at is not None

    # The confirmation page links to the preferences page; change the filter there.
    manage_path = re.search(r'href="https://alerts\.example\.org(/manage/[^"]+/)"', confirmed.text).group(1)
    manage = client.get(manage_path)
    assert manage.status_code == 200
    assert 'value="abs:&quot;sparse attention&quot;"' in manage.text
    saved = client.post(manage_path, preferences_data([("Retrieval", "ti:retrieval AND cat:cs.IR")]))
    assert saved.status_code == 302
    assert client.get(saved["Location"]).text.count("Your preferences are saved.") == 1
    (topic,) = subscriber.filters.all()
    assert (topic.name, topic.query) == ("Retrieval", "ti:retrieval AND cat:cs.IR")

    # RFC 8058: the mail provider POSTs with no cookie and no CSRF token, gets 200, no redirect.
    provider = Client(enforce_csrf_checks=True)
    unsubscribe_path = tokens.unsubscribe_url(subscriber).removeprefix("https://alerts.example.org")
    response = provider.post(unsubscribe_path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "You are unsubscribed" in response.text
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert subscriber.unsubscribed_at is not None

    kinds = list(subscriber.events.order_by("id").values_list("kind", flat=True))
    assert kinds == ["created", "confirmation_sent", "confirmed", "updated", "unsubscribed"]
    last = subscriber.events.order_by("-id").first()
    assert (last.actor, last.from_status, last.to_status) == ("subscriber", "active", "unsubscribed")
    assert last.detail == {"reason": "one-click"}


def test_one_click_unsubscribe_is_idempotent_and_never_redirects(db):
    from tests.factories import SubscriberFactory

    subscriber = SubscriberFactory()
    provider = Client(enforce_csrf_checks=True)
    path = tokens.unsubscribe_url(subscriber).removeprefix("https://alerts.example.org")
    first = provider.post(path, {"List-Unsubscribe": "One-Click"})
    second = provider.post(path, {"List-Unsubscribe": "One-Click"})
    assert first.status_code == second.status_code == 200
    assert "Location" not in first
    assert "Location" not in second
    assert subscriber.events.filter(kind=SubscriberEvent.Kind.UNSUBSCRIBED).count() == 1


def test_the_unsubscribe_link_shows_one_button_and_changes_nothing_on_get(client):
    from tests.factories import SubscriberFactory

    subscriber = SubscriberFactory()
    path = tokens.unsubscribe_url(subscriber).removeprefix("https://alerts.example.org")
    page = client.get(path)
    assert page.status_code == 200
    assert page.text.count("<button") == 1
    assert "csrfmiddlewaretoken" not in page.text
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE


def test_after_unsubscribing_the_page_offers_a_fresh_confirmation(
    client, outbox, django_capture_on_commit_callbacks
):
    from tests.factories import SubscriberFactory

    subscriber = SubscriberFactory()
    path = tokens.unsubscribe_url(subscriber).removeprefix("https://alerts.example.org")
    page = client.post(path)
    assert "Subscribe again" in page.text
    resubscribe_path = re.search(r'action="(/unsubscribe/[^"]+/resubscribe/)"', page.text).group(1)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(resubscribe_path)
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED  # not until confirmed
    (message,) = outbox
    assert client.post(links_in(message)["confirm"]).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE
    assert subscriber.events.filter(kind="resubscribed").exists()
