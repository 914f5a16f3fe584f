"""The one-box subscription: an address alone gets the day's trending papers, once a day
at the default hour, after the usual double opt-in; filters stay optional."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from alerts.digests.runner import digests_run
from alerts.models import DigestItem
from subscribers.models import Subscriber
from subscribers.tokens import MANAGE, make_token
from tests.alerts.digests.conftest import make_papers
from tests.factories import PaperFactory, SubscriberFactory
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


def test_a_trending_only_digest_orders_by_upvotes_and_recency():
    # Fixed instant: the first digest covers the day before `now`.
    now = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
    subscriber = SubscriberFactory(email="grace@example.org", filters=0, include_trending=True)
    made = {}
    for key, upvotes, hours_ago in [
        ("old-popular", 60, 23),
        ("fresh", 10, 1),
        ("old-quiet", 8, 22),
        ("mid", 30, 12),
    ]:
        made[key] = PaperFactory(
            title=f"Paper {key}", upvotes=upvotes, first_seen_at=now - dt.timedelta(hours=hours_ago)
        )
    digests_run(now=now)
    items = DigestItem.objects.filter(digest__subscriber=subscriber).select_related("paper").order_by("rank")
    # log(1 + upvotes) + log(10) x place in the window (0 = its start, 1 = now):
    # fresh 2.40 + 2.21, mid 3.43 + 1.15, old-popular 4.11 + 0.10, old-quiet 2.20 + 0.19
    # (when the window is the 24 hours before `now`).
    assert [item.paper.title for item in items] == [
        "Paper fresh",
        "Paper mid",
        "Paper old-popular",
        "Paper old-quiet",
    ]
    # Before, the most upvoted came first whatever its age.
    assert sorted(made, key=lambda k: -made[k].upvotes)[0] == "old-popular"
