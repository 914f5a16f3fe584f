"""The preferences page reached from every email: filters, delivery, pause, unsubscribe."""

import re

import pytest
from django.test import Client

from subscribers import tokens
from subscribers.models import Subscriber, SubscriberEvent
from tests.factories import SubscriberFactory, TopicFilterFactory
from tests.subscribers.conftest import links_in
from tests.subscribers.helpers import filter_data, preferences_data

pytestmark = pytest.mark.django_db
Status = Subscriber.Status


def manage_path(subscriber) -> str:
    return tokens.manage_url(subscriber).removeprefix("https://alerts.example.org")


def csrf_client(path: str) -> tuple[Client, str]:
    """A browser-like client that has loaded PATH, and the CSRF token of its form."""
    client = Client(enforce_csrf_checks=True)
    page = client.get(path)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return client, token


@pytest.fixture
def subscriber():
    subscriber = SubscriberFactory(email="ada@example.org", filters=0, max_papers=15, timezone="Asia/Tokyo")
    TopicFilterFactory(subscriber=subscriber, name="Graphs", query="ti:graph", position=0)
    TopicFilterFactory(subscriber=subscriber, name="Agents", query="abs:agent", position=1)
    return subscriber


def test_the_page_shows_the_current_preferences(client, subscriber):
    page = client.get(manage_path(subscriber))
    assert page.status_code == 200
    assert "ada@example.org" in page.text
    assert 'name="filters-0-query" value="ti:graph"' in page.text
    assert 'name="filters-1-name" value="Agents"' in page.text
    assert 'name="filters-TOTAL_FORMS" value="2"' in page.text
    assert 'value="Asia/Tokyo" selected' in page.text
    assert 'name="max_papers" value="15"' in page.text
    assert "data-timezone-autofill" not in page.text  # the browser must not override a saved zone


def test_saving_needs_the_csrf_token(subscriber):
    path = manage_path(subscriber)
    client, token = csrf_client(path)
    data = preferences_data([("Graphs", "ti:graph")], max_papers=30)
    assert client.post(path, data).status_code == 403
    assert client.post(path, {**data, "csrfmiddlewaretoken": token}).status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.max_papers == 30


def test_changing_filters_keeps_rows_and_records_what_changed(client, subscriber):
    first_id = subscriber.filters.get(position=0).pk
    data = preferences_data(
        [("Graph neural networks", 'ti:"graph neural"'), ("", ""), ("Vision", "cat:cs.CV")],
        timezone="Asia/Tokyo",
        max_papers=15,
        frequency="weekly",
        send_hour=18,
    )
    response = client.post(manage_path(subscriber), data)
    assert response.status_code == 302
    rows = list(subscriber.filters.values_list("pk", "name", "query", "position"))
    assert rows[0] == (first_id, "Graph neural networks", 'ti:"graph neural"', 0)
    assert rows[1][1:] == ("Vision", "cat:cs.CV", 1)
    subscriber.refresh_from_db()
    assert (subscriber.frequency, subscriber.send_hour) == ("weekly", 18)
    event = subscriber.events.get(kind=SubscriberEvent.Kind.UPDATED)
    assert sorted(event.detail["fields"]) == ["filters", "frequency", "send_hour"]


def test_saving_without_changes_says_so_and_records_nothing(client, subscriber):
    data = preferences_data(
        [("Graphs", "ti:graph"), ("Agents", "abs:agent")], timezone="Asia/Tokyo", max_papers=15
    )
    response = client.post(manage_path(subscriber), data, follow=True)
    assert "Nothing changed." in response.text
    assert not subscriber.events.exists()


def test_the_same_validation_as_sign_up(client, subscriber):
    data = preferences_data([("", "")], max_papers=99)
    response = client.post(manage_path(subscriber), data)
    assert response.status_code == 400
    assert "Add at least one filter" in response.text
    assert "Choose between 5 and 50 papers per digest." in response.text
    assert subscriber.filters.count() == 2


def test_no_more_than_ten_filters(client, subscriber):
    data = preferences_data([("f", f"ti:t{i}") for i in range(11)])
    response = client.post(manage_path(subscriber), data)
    assert response.status_code == 400
    assert "You can have at most 10 filters." in response.text
    assert subscriber.filters.count() == 2


def test_add_another_filter_without_javascript(client, subscriber):
    data = {**preferences_data([("Graphs", "ti:graph")]), "action": "add_filter"}
    response = client.post(manage_path(subscriber), data)
    assert response.status_code == 200
    assert 'name="filters-TOTAL_FORMS" value="2"' in response.text
    assert 'name="filters-1-query" value=""' not in response.text  # an empty new row
    assert 'name="filters-1-query"' in response.text
    assert subscriber.filters.count() == 2  # nothing saved yet


def test_pause_resume_and_unsubscribe(client, subscriber):
    path = manage_path(subscriber)
    paused = client.post(path, {"action": "pause"}, follow=True)
    assert "Digests are paused." in paused.text
    subscriber.refresh_from_db()
    assert subscriber.paused_at is not None
    assert not subscriber.is_receiving
    assert "Resume digests" in paused.text

    resumed = client.post(path, {"action": "resume"}, follow=True)
    assert "Digests are on again." in resumed.text
    subscriber.refresh_from_db()
    assert subscriber.is_receiving

    gone = client.post(path, {"action": "unsubscribe"}, follow=True)
    assert "You are unsubscribed" in gone.text
    assert "Subscribe again" in gone.text
    subscriber.refresh_from_db()
    assert subscriber.status == Status.UNSUBSCRIBED
    kinds = list(subscriber.events.order_by("id").values_list("kind", flat=True))
    assert kinds == ["paused", "resumed", "unsubscribed"]


def test_resubscribing_from_the_manage_page_needs_a_fresh_confirmation(
    client, subscriber, outbox, django_capture_on_commit_callbacks
):
    subscriber.status = Status.UNSUBSCRIBED
    subscriber.save()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(manage_path(subscriber), {"action": "resubscribe"})
    assert "Check your inbox" in response.text
    subscriber.refresh_from_db()
    assert subscriber.status == Status.UNSUBSCRIBED
    (message,) = outbox
    assert "confirm" in links_in(message)


def test_a_complained_subscriber_sees_a_closed_page_and_cannot_change_anything(client):
    subscriber = SubscriberFactory(status=Status.COMPLAINED)
    path = manage_path(subscriber)
    assert "This subscription is closed" in client.get(path).text
    client.post(path, {"action": "resubscribe"})
    client.post(path, preferences_data([("x", "ti:x")]))
    subscriber.refresh_from_db()
    assert subscriber.status == Status.COMPLAINED
    assert not subscriber.events.exists()


def test_a_forged_manage_link_shows_the_helpful_page(client, subscriber):
    path = manage_path(subscriber)
    response = client.post(path[:-3] + "xx/", filter_data([("a", "ti:a")]))
    assert response.status_code == 404
    assert "This link does not work" in response.text
