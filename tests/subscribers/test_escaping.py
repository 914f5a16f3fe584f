"""Untrusted text (filter names and queries people type, paper titles from feeds) shows as
text on every page and in every email, never as markup."""

import pytest
from django.urls import reverse

from subscribers import tokens
from subscribers.emails import render_email
from tests.factories import SubscriberFactory, TopicFilterFactory
from tests.subscribers.helpers import signup_data

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert('x')</script>"
ESCAPED = "&lt;script&gt;alert("  # quotes in text may be escaped or not: both are safe


@pytest.fixture
def hostile_subscriber():
    subscriber = SubscriberFactory(filters=0)
    TopicFilterFactory(
        subscriber=subscriber, name=f"Mine {SCRIPT}", query='ti:"<img src=x onerror=alert(1)>"'
    )
    return subscriber


def assert_escaped(html: str) -> None:
    assert SCRIPT not in html
    assert "<img src=x" not in html
    assert ESCAPED in html


def path(url: str) -> str:
    return url.removeprefix("https://alerts.example.org")


def test_the_manage_page_escapes_filter_names_and_queries(client, hostile_subscriber):
    assert_escaped(client.get(path(tokens.manage_url(hostile_subscriber))).text)


def test_the_confirmed_page_escapes_filter_names(client, hostile_subscriber):
    hostile_subscriber.status = "pending"
    hostile_subscriber.save()
    link = path(tokens.confirm_url(hostile_subscriber))
    assert SCRIPT not in client.get(link).text  # the button page names no filter
    assert_escaped(client.post(link).text)


def test_the_sign_up_form_sent_back_with_errors_escapes_what_was_typed(client):
    response = client.post("/", signup_data(email=SCRIPT, filters=[(SCRIPT, SCRIPT)]))
    assert response.status_code == 400
    assert_escaped(response.text)


def test_emails_escape_filter_names_in_html_and_keep_text_plain(hostile_subscriber):
    context = {"subscriber": hostile_subscriber, "filters": list(hostile_subscriber.filters.all())}
    _, text, html = render_email("manage_link", {**context, "manage_url": "u", "unsubscribe_url": "v"})
    assert_escaped(html)
    assert f"Mine {SCRIPT}" in text  # plain text is not HTML: shown as typed


def test_the_admin_escapes_filter_names(admin_client, hostile_subscriber):
    page = admin_client.get(reverse("admin:subscribers_subscriber_change", args=[hostile_subscriber.pk]))
    assert page.status_code == 200
    assert_escaped(page.text)


def test_paper_titles_are_escaped_in_the_sign_up_preview_and_the_admin(client, admin_client):
    from tests.factories import PaperFactory

    PaperFactory(title=f"{SCRIPT} agents", abstract="<img src=x onerror=alert(1)>")
    data = signup_data(filters=[("Agents", "ti:agents")], action="preview")
    assert_escaped(client.post("/", data).text)
    assert_escaped(client.get("/preview/", {"q": "ti:agents"}).text)
    assert_escaped(admin_client.get(reverse("admin:alerts_paper_changelist")).text)
