"""The one-box subscription: an address alone gets the day's trending papers, once a day
at the default hour, after the usual double opt-in; filters stay optional."""

from __future__ import annotations

import re

import pytest

from alerts.digests.runner import digests_run
from alerts.models import DigestItem
from subscribers.models import Subscriber
from subscribers.tokens import MANAGE, make_token
from tests.alerts.digests.conftest import make_papers
from tests.factories import SubscriberFactory
from tests.subscribers.conftest import html_part, links_in
from tests.subscribers.helpers import preferences_data, signup_data

pytestmark = pytest.mark.django_db


def test_an_address_alone_signs_up_for_trending_papers_and_gets_them_with_feedback_links(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    page = client.get("/")
    assert 'value="trending"' in page.text
    assert page.text.index('value="trending"') < page.text.index('value="subscribe" class="primary"')

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/", {"action": "trending", "email": "Grace@Example.org"})
    assert response.status_code == 200
    assert "Check your inbox" in response.text
    subscriber = Subscriber.objects.get()
    assert subscriber.status == Subscriber.Status.PENDING  # double opt-in as usual
    assert (subscriber.include_trending, subscriber.frequency, subscriber.send_hour) == (True, "daily", 7)
    assert not subscriber.filters.exists()

    (confirmation,) = mailoutbox
    client.post(links_in(confirmation)["confirm"])
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE

    mailoutbox.clear()
    make_papers()
    digests_run()
    (digest,) = mailoutbox
    items = DigestItem.objects.filter(digest__subscriber=subscriber)
    assert items.exists()
    assert set(items.values_list("section", flat=True)) == {DigestItem.Section.TRENDING}
    upvotes = [item.paper.upvotes for item in items.select_related("paper").order_by("rank")]
    assert upvotes == sorted(upvotes, reverse=True)
    assert digest.subject.startswith(f"{len(upvotes)} trending paper")
    assert "for the day's trending papers" in digest.body
    assert len(re.findall(r'/feedback/[^"]+/more/">More like this', html_part(digest))) == len(upvotes)


def test_the_one_box_explains_a_bad_address_and_stores_nothing(client):
    response = client.post("/", {"action": "trending", "email": "not an address"})
    assert response.status_code == 400
    assert 'id="trending_email_error"' in response.text
    assert not Subscriber.objects.exists()


def test_without_filters_or_trending_the_full_form_still_asks_for_a_filter(client):
    response = client.post("/", signup_data(filters=[("", "")]))
    assert response.status_code == 400
    assert "Add at least one filter" in response.text
    ticked = client.post("/", {**signup_data(filters=[("", "")]), "include_trending": "on"})
    assert ticked.status_code == 200
    assert Subscriber.objects.get().include_trending


def test_filters_can_be_added_later_on_the_manage_page(client):
    subscriber = SubscriberFactory(email="grace@example.org", filters=0, include_trending=True)
    manage = f"/manage/{make_token(subscriber, MANAGE)}/"
    assert 'id="id_filters-0-query"' in client.get(manage).text
    data = preferences_data([("Graphs", "ti:graph")], include_trending="on")
    assert client.post(manage, data).status_code == 302
    assert list(subscriber.filters.values_list("query", flat=True)) == ["ti:graph"]
    # And removed again: trending alone is enough.
    assert client.post(manage, preferences_data([("", "")], include_trending="on")).status_code == 302
    assert not subscriber.filters.exists()
