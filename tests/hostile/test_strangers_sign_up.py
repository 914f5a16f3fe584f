"""Anyone can type anyone's address into the sign-up form. For an address that exists
(pending, unsubscribed, active), such a sign-up changes nothing before the owner presses a
confirmation's button, and no email carries what the stranger typed."""

from __future__ import annotations

import pytest

from subscribers.models import Subscriber
from tests.factories import SubscriberFactory, TopicFilterFactory
from tests.subscribers.helpers import signup_data

pytestmark = pytest.mark.django_db
Status = Subscriber.Status

STRANGERS_NAME = "Call +1 555 0100 to claim your prize"
STRANGERS_QUERY = 'ti:"wire transfer"'


def owned(status: str) -> Subscriber:
    subscriber = SubscriberFactory(
        email="ada@example.org", status=status, filters=0, timezone="Asia/Tokyo", send_hour=6, max_papers=15
    )
    TopicFilterFactory(subscriber=subscriber, name="Graphs", query="ti:graph", position=0)
    return subscriber


def state(subscriber: Subscriber) -> tuple:
    subscriber = Subscriber.objects.get(pk=subscriber.pk)
    filters = list(subscriber.filters.values_list("name", "query", "is_active"))
    return (subscriber.status, subscriber.timezone, subscriber.send_hour, subscriber.max_papers, filters)


@pytest.mark.parametrize("status", [Status.PENDING, Status.UNSUBSCRIBED, Status.ACTIVE])
def test_a_strangers_sign_up_changes_nothing_and_mails_none_of_their_text(
    status, client, mailoutbox, django_capture_on_commit_callbacks
):
    subscriber = owned(status)
    before = state(subscriber)
    form = signup_data(
        "ADA@example.org", [(STRANGERS_NAME, STRANGERS_QUERY)], timezone="Europe/Berlin", send_hour=23
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/", form)
    assert response.status_code == 200
    assert state(subscriber) == before
    (message,) = mailoutbox
    assert message.to == ["ada@example.org"]
    (html, _), *_ = message.alternatives
    for part in (message.subject, message.body, html):
        assert "Call +1 555" not in part
        assert "wire transfer" not in part
        assert "wire&#34; transfer" not in part


def test_the_owner_sees_what_a_repeated_sign_up_asked_for_before_confirming_it(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    subscriber = owned(Status.UNSUBSCRIBED)
    before = state(subscriber)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/", signup_data("ada@example.org", [(STRANGERS_NAME, STRANGERS_QUERY)]))
    link = next(word for word in mailoutbox[0].body.split() if "/confirm/" in word)
    path = link.split("example.org", 1)[1]
    page = client.get(path).text
    assert STRANGERS_NAME in page  # shown (escaped) to whoever opens the owner's mail
    assert state(subscriber) == before
    # Pressing the button without the page (a scanner, an old page) applies nothing typed.
    client.post(path)
    assert state(subscriber)[1:] == before[1:]
    assert Subscriber.objects.get().status == Status.ACTIVE
