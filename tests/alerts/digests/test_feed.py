"""The subscriber's Atom feed: one entry per paper, valid Atom (RFC 4287) as a real parser and
an XML check see it, and conditional GET so a feed reader's poll is cheap."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import feedparser
import pytest
from django.utils.http import http_date

from alerts.digests.runner import digests_run
from alerts.models import Digest
from subscribers.tokens import feed_url
from tests.factories import PaperFactory

from .conftest import SITE, make_papers, subscribe

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
ATOM = "{http://www.w3.org/2005/Atom}"


@pytest.fixture
def reader(db, mailoutbox):
    papers = make_papers(seen_at=NOW - dt.timedelta(hours=2))
    subscriber = subscribe(
        "ada@example.org", ("Diffusion", "diffusion"), ("Attention", "ti:attention"), include_trending=True
    )
    assert digests_run(now=NOW, day=NOW.date()).sent == 1
    subscriber.papers = papers
    return subscriber


def feed_path(subscriber) -> str:
    return feed_url(subscriber).removeprefix(SITE)


def test_one_entry_per_paper_with_its_authors_abstract_links_and_filter(client, reader):
    response = client.get(feed_path(reader))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    digest = Digest.objects.get(subscriber=reader)
    sent = list(digest.items.select_related("paper").order_by("section", "rank"))
    assert [e.title for e in parsed.entries] == [i.paper.title for i in sent]
    by_title = {e.title: e for e in parsed.entries}
    paper = reader.papers["sparse-attention"]
    entry = by_title[paper.title]
    assert [a.name for a in entry.authors] == ["Ada Lovelace", "Yann LeCun", "Bernhard Schölkopf"]
    assert entry.link == paper.abs_url
    assert {link.href for link in entry.links} == {paper.abs_url, paper.pdf_url}
    assert entry.summary == paper.abstract
    assert "Matched your filter: Attention" in entry.content[0].value
    assert entry.published_parsed[:6] == paper.published.utctimetuple()[:6]
    assert [t.term for t in entry.tags] == ["Attention"]
    assert len({e.id for e in parsed.entries}) == len(parsed.entries)


def test_the_feed_has_every_element_rfc_4287_requires(client, reader):
    root = ET.fromstring(client.get(feed_path(reader)).content)  # noqa: S314 - our own feed
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert root.findtext(f"{ATOM}{name}"), name
    assert root.find(f"{ATOM}author/{ATOM}name").text  # covers entries without authors
    entries = root.findall(f"{ATOM}entry")
    assert entries
    for entry in entries:
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
        assert entry.findall(f"{ATOM}link[@rel='alternate']")
        content = entry.find(f"{ATOM}content")
        assert content.get("type") == "html"
        # RFC 4287 4.1.1.1: at most one alternate link per type and language, one summary.
        assert len(entry.findall(f"{ATOM}summary")) <= 1
        dt.datetime.fromisoformat(entry.findtext(f"{ATOM}updated"))  # an RFC 3339 date


def test_a_poll_with_the_etag_or_the_date_gets_304_until_a_digest_is_sent(client, reader):
    first = client.get(feed_path(reader))
    etag, modified = first["ETag"], first["Last-Modified"]
    assert etag.startswith('"')
    assert modified == http_date(Digest.objects.get(subscriber=reader).sent_at.timestamp())
    assert "private" in first["Cache-Control"]
    again = client.get(feed_path(reader), HTTP_IF_NONE_MATCH=etag)
    assert (again.status_code, again.content, again["ETag"]) == (304, b"", etag)
    assert client.get(feed_path(reader), HTTP_IF_MODIFIED_SINCE=modified).status_code == 304
    assert client.get(feed_path(reader), HTTP_IF_NONE_MATCH='"other"').status_code == 200

    tomorrow = NOW + dt.timedelta(days=1)
    fresh = PaperFactory(title="Latent diffusion for audio", first_seen_at=tomorrow - dt.timedelta(hours=2))
    assert digests_run(now=tomorrow, day=tomorrow.date()).sent == 1
    renewed = client.get(feed_path(reader), HTTP_IF_NONE_MATCH=etag, HTTP_IF_MODIFIED_SINCE=modified)
    assert renewed.status_code == 200
    assert renewed["ETag"] != etag
    assert feedparser.parse(renewed.content).entries[0].title == fresh.title


def test_an_empty_feed_is_valid_and_a_bad_link_is_404(client, db):
    nobody = subscribe("new@example.org", ("x", "x"))
    response = client.get(feed_path(nobody))
    assert response["ETag"]
    assert "Last-Modified" not in response
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo
    assert parsed.entries == []
    assert parsed.feed.title
    assert client.get("/feed/1.AAAAAAAAAAAAAAAAAAAAAAAAAAA.xml").status_code == 404
