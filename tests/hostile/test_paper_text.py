"""Hostile paper text, as a listing could carry it (inputs/papers/hostile_listing.xml): HTML
and script in titles, abstracts and author names, bidirectional overrides, a 100 KB title,
template and slot syntax, CR/LF. It is stored as text, bounded, and shows as text on every
page (the sign-up and manage previews, the digest's browser view, the subscriber's feed,
the admin) and in both parts of the digest email; no page runs a script it carries.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET

import pytest
from django.urls import reverse

from alerts.digests.runner import digests_run
from alerts.models import Digest, Paper
from subscribers import tokens
from subscribers.tokens import digest_view_url, feed_url
from tests.alerts.conftest import run_fetch_papers
from tests.factories import SubscriberFactory, TopicFilterFactory
from tests.subscribers.helpers import preferences_data, signup_data

from .conftest import INPUTS, assert_csp_forbids_inline_scripts, assert_no_active_markup, local

pytestmark = pytest.mark.django_db

LISTING = INPUTS / "papers" / "hostile_listing.xml"
FILTERS = [("Agents", "ti:agents")]
# What the listing's text looks like once escaped for HTML: it must show, as text.
SHOWN = ["&lt;script&gt;alert(", "&lt;img src=x onerror=alert(", "@@slot:unsubscribe_url@@"]
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def stored():
    result = run_fetch_papers("--source", "arxiv-rss", "--file", str(LISTING))
    assert (result.status, result.summary) == (0, "fetched 5, created 5, updated 0, skipped 0")
    return {p.arxiv_id: p for p in Paper.objects.all()}


@pytest.fixture
def reader(stored):
    subscriber = SubscriberFactory(email="ada@example.org", filters=0)
    TopicFilterFactory(subscriber=subscriber, name="Agents", query="ti:agents")
    return subscriber


def test_the_text_is_stored_as_text_bounded_and_without_overrides(stored):
    long_title = stored["2603.90003"].title
    assert len(long_title) <= 1000  # 108 KB in the listing
    assert long_title.endswith("…")
    for paper in stored.values():
        assert not BIDI_CONTROLS.search(paper.title + paper.abstract + "".join(paper.authors))
        assert "\r" not in paper.title and "\n" not in paper.title  # noqa: PT018
    assert stored["2603.90002"].title.startswith("Agents gnirts desrever and isolated text")
    assert "\u200f" in stored["2603.90002"].title  # a plain right-to-left mark is harmless: kept
    assert stored["2603.90001"].title == '<script>alert("title")</script> Agents that act on the web'


def test_the_digest_email_shows_it_as_text_in_both_parts(reader, mailoutbox):
    assert digests_run().sent == 1
    (message,) = mailoutbox
    assert message.to == ["ada@example.org"]
    headers = message.message()
    assert headers.get_all("Bcc") is None
    assert "injected" not in headers["Subject"]
    (html, _), *_ = message.alternatives
    assert_no_active_markup(html)
    for text in SHOWN:
        assert text in html
    assert "{{ subscriber.email }}" in html  # template syntax in a title stays text
    assert not BIDI_CONTROLS.search(html + message.body)
    assert len(html) < 200_000  # the 100 KB title does not make a 100 KB email
    # The text part is not HTML: the title reads as it was written.
    assert '<script>alert("title")</script> Agents that act on the web' in message.body
    assert "Agents @@slot:unsubscribe_url@@ {{ subscriber.email }}" in message.body


def pages(client, admin_client, subscriber) -> dict[str, object]:
    digest = Digest.objects.get(subscriber=subscriber)
    manage = local(tokens.manage_url(subscriber))
    paper = Paper.objects.get(arxiv_id="2603.90001")
    return {
        "live preview": client.get("/preview/", {"q": "ti:agents"}),
        "sign-up preview": client.post("/", signup_data(filters=FILTERS, action="preview")),
        "manage preview": client.post(manage, {**preferences_data(FILTERS), "action": "preview"}),
        "digest view": client.get(local(digest_view_url(digest, subscriber))),
        "admin papers": admin_client.get(reverse("admin:alerts_paper_changelist"), {"q": "agents"}),
        "admin search": admin_client.get(reverse("admin:alerts_paper_changelist"), {"q": "<script>alert(1)"}),
        "admin paper": admin_client.get(reverse("admin:alerts_paper_change", args=[paper.pk])),
        "admin digest": admin_client.get(reverse("admin:alerts_digest_change", args=[digest.pk])),
    }


def test_every_page_shows_it_as_text_and_runs_no_script_from_it(client, admin_client, reader, mailoutbox):
    # The admin's preview of the next digest, while these papers are still to be sent.
    preview = admin_client.get(reverse("admin:alerts_digest_preview"), {"email": reader.email})
    (inner,) = re.findall(r'srcdoc="([^"]*)"', preview.text)
    assert_no_active_markup(html.unescape(inner))  # the email's HTML, shown in a sandboxed frame
    digests_run()
    for name, response in {"admin preview": preview, **pages(client, admin_client, reader)}.items():
        assert response.status_code == 200, name
        page = response.text
        assert_no_active_markup(page)
        assert_csp_forbids_inline_scripts(response)
        assert not BIDI_CONTROLS.search(page), name
        if name != "admin search":
            assert "&lt;script&gt;alert(" in page, name


def test_the_subscribers_feed_carries_it_as_escaped_text(client, reader, mailoutbox):
    digests_run()
    response = client.get(local(feed_url(reader)))
    assert response.status_code == 200
    root = ET.fromstring(response.content)  # noqa: S314 - our own feed, well-formed or the test fails
    atom = "{http://www.w3.org/2005/Atom}"
    assert not list(root.iter(f"{atom}script")) and not list(root.iter("script"))  # noqa: PT018
    entries = {e.findtext(f"{atom}id"): e for e in root.iter(f"{atom}entry")}
    (entry,) = [e for e in entries.values() if "<script>" in e.findtext(f"{atom}title")]
    title = entry.find(f"{atom}title")
    assert title.get("type", "text") == "text"  # the title is text, whatever it holds
    assert title.text == '<script>alert("title")</script> Agents that act on the web'
    content = entry.find(f"{atom}content")
    assert content.get("type") == "html"
    assert_no_active_markup(content.text)  # the entry's HTML shows the paper's markup as text
    for e in entries.values():
        assert_no_active_markup(e.find(f"{atom}content").text)
        assert e.find(f"{atom}summary") is None or e.find(f"{atom}summary").get("type") == "text"
