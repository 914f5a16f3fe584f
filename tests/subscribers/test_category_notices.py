"""Filters saved before `cat:` was checked that name a category arXiv does not have are not
dropped silently: the subscriber is told on the preferences page and once by email, and the
admin can list them."""

import datetime as dt

import pytest
from django.core import mail

from subscribers import tokens
from subscribers.models import TopicFilter
from subscribers.services import category_notices_queue
from tests.factories import SubscriberFactory, TopicFilterFactory
from tests.subscribers.helpers import preferences_data

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 5, 6, 0, tzinfo=dt.UTC)


def manage_path(subscriber) -> str:
    return tokens.manage_url(subscriber).removeprefix("https://alerts.example.org")


@pytest.fixture
def ada():
    ada = SubscriberFactory(email="ada@example.org", filters=0)
    TopicFilterFactory(subscriber=ada, name="Graphs", query="ti:graph", position=0)
    TopicFilterFactory(subscriber=ada, name="Robots <b>!</b>", query="cat:cs.ROO OR ti:robot", position=1)
    TopicFilterFactory(subscriber=ada, name="Made up", query="cat:aaaa cat:cs.CLL", position=2)
    return ada


def test_the_preferences_page_names_each_filter_and_the_nearest_category(client, ada):
    page = client.get(manage_path(ada)).text

    assert "These filters name arXiv categories that do not exist" in page
    assert (
        "<strong>Robots &lt;b&gt;!&lt;/b&gt;</strong>: <code>cat:cs.ROO</code> is not an arXiv category; "
        "did you mean <code>cat:cs.RO</code>?" in page
    )
    assert (
        "<strong>Made up</strong>: <code>cat:aaaa</code> is not an arXiv category · "
        "<code>cat:cs.CLL</code> is not an arXiv category; did you mean <code>cat:cs.CL</code>?" in page
    )
    assert "Graphs</strong>" not in page


def test_a_page_with_only_real_categories_has_no_notice(client):
    reader = SubscriberFactory(filters=0)
    TopicFilterFactory(subscriber=reader, query="cat:cs.RO OR cat:cs.*")
    assert "arXiv category" not in client.get(manage_path(reader)).text


def test_one_email_per_subscriber_naming_every_such_filter_and_never_twice(
    ada, django_capture_on_commit_callbacks
):
    SubscriberFactory(filters=0, status="pending").filters.create(name="P", query="cat:aaaa")
    SubscriberFactory(filters=0, status="unsubscribed").filters.create(name="U", query="cat:aaaa")
    TopicFilterFactory(subscriber=SubscriberFactory(filters=0), query="cat:zzzz", is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        assert category_notices_queue(now=NOW) == 1

    [email] = mail.outbox
    assert email.to == ["ada@example.org"]
    assert email.subject == "2 filters of yours match nothing: they name arXiv categories that do not exist"
    assert "  - Robots <b>!</b>: cat:cs.ROO OR ti:robot\n" in email.body
    assert "      cat:cs.ROO is not an arXiv category; did you mean cat:cs.RO?\n" in email.body
    assert "      cat:aaaa is not an arXiv category\n" in email.body
    assert tokens.manage_url(ada) in email.body
    html = email.alternatives[0][0]
    assert "<strong>Robots &lt;b&gt;!&lt;/b&gt;</strong>" in html
    assert set(TopicFilter.objects.filter(subscriber=ada).values_list("name", "category_notice_sent_at")) == {
        ("Graphs", None),
        ("Robots <b>!</b>", NOW),
        ("Made up", NOW),
    }

    with django_capture_on_commit_callbacks(execute=True):
        assert category_notices_queue(now=NOW + dt.timedelta(days=3)) == 0
    assert len(mail.outbox) == 1


def test_a_subscriber_told_today_waits_a_day_for_the_next_email(ada, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        category_notices_queue(now=NOW)
    TopicFilterFactory(subscriber=ada, name="Later", query="cat:qant-ph", position=3)

    with django_capture_on_commit_callbacks(execute=True):
        assert category_notices_queue(now=NOW + dt.timedelta(hours=20)) == 0
        assert category_notices_queue(now=NOW + dt.timedelta(hours=25)) == 1

    assert len(mail.outbox) == 2
    assert mail.outbox[1].subject == (
        "A filter of yours matches nothing: it names an arXiv category that does not exist"
    )
    assert (
        "  - Later: cat:qant-ph\n      cat:qant-ph is not an arXiv category; did you mean cat:quant-ph?"
        in (mail.outbox[1].body)
    )


def test_a_filter_changed_before_the_email_left_is_not_mentioned(ada, django_capture_on_commit_callbacks):
    TopicFilter.objects.filter(subscriber=ada, name="Made up").update(query="cat:cs.CL")
    TopicFilter.objects.filter(subscriber=ada, name__startswith="Robots").update(query="cat:cs.RO")
    with django_capture_on_commit_callbacks(execute=True):
        assert category_notices_queue(now=NOW) == 0
    assert mail.outbox == []


def test_the_admin_lists_subscribers_with_such_filters(admin_client, ada):
    SubscriberFactory(email="bob@example.org")  # a real category only

    listed = admin_client.get("/admin/subscribers/subscriber/?unknown_categories=yes").text
    detail = admin_client.get(f"/admin/subscribers/subscriber/{ada.pk}/change/").text

    assert "ada@example.org" in listed
    assert "bob@example.org" not in listed
    assert "cat:aaaa, cat:cs.CLL (did you mean cat:cs.CL?)" in detail


def test_a_new_filter_naming_an_unknown_category_is_refused_with_the_nearest(client):
    reader = SubscriberFactory(filters=0)

    page = client.post(manage_path(reader), preferences_data([("Parsing", "cat:cs.CLL AND ti:parsing")]))

    assert page.status_code == 400
    assert "&#x27;cs.CLL&#x27; is not an arXiv category: did you mean cat:cs.CL? (column 5)" in page.text
    assert not reader.filters.exists()
