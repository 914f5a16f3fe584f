"""Any RSS/Atom feed: items keyed by guid (or link), HTML turned into text."""

import datetime as dt

import pytest

from alerts.models import FetchRun, Paper
from tests.alerts.conftest import saved, stored
from tests.alerts.expected_papers import AGOCS_ABSTRACT, ENVPOOL_ABSTRACT
from tests.fakeweb import Reply

pytestmark = pytest.mark.django_db

JOURNAL = "feed_journal_rss.xml"
BLOG = "feed_blog_atom.xml"
JOURNAL_URL = "https://journal.example.org/jps/rss"


def envpool(feed_url: str) -> dict:
    return {
        "arxiv_id": None,
        "external_key": "jps-2026-0142",  # the guid
        "version": None,
        "title": "EnvPool: A Highly Parallel Reinforcement Learning Environment Execution Engine",
        "abstract": ENVPOOL_ABSTRACT + " Open access · Volume 41",
        "authors": ["Jiayi Weng", "Min Lin", "Shengyi Huang"],
        "affiliations": {},
        "categories": ["Reinforcement learning", "Systems"],
        "primary_category": "",
        "published": dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC),
        "updated": dt.datetime(2026, 3, 2, 14, 30, tzinfo=dt.UTC),
        "announced_on": None,
        "announce_type": "",
        "abs_url": "https://journal.example.org/jps/article/10.5555/jps.2026.0142",
        "pdf_url": "",
        "doi": "10.5555/jps.2026.0142",
        "journal_ref": "",
        "comment": "",
        "upvotes": None,
        "source": "feed",
        "feed_url": feed_url,
    }


def test_rss_feed_file_keys_items_by_guid_else_link(fetch_papers):
    result = fetch_papers("--source", "feed", "--url", JOURNAL_URL, "--file", str(saved(JOURNAL)))

    assert result.status == 0, result.err
    assert result.summary == "fetched 2, created 2, updated 0, skipped 0"
    assert stored(Paper.objects.get(external_key="jps-2026-0142")) == envpool(JOURNAL_URL)
    no_guid = Paper.objects.get(title="The simple essence of automatic differentiation")
    assert no_guid.external_key == "https://journal.example.org/jps/article/10.5555/jps.2026.0143"
    assert (no_guid.authors, no_guid.doi, no_guid.arxiv_id) == (["Conal Elliott"], "", None)


def test_atom_feed_file_stores_html_as_text(fetch_papers):
    result = fetch_papers("--source", "feed", "--file", str(saved(BLOG)))

    assert result.status == 0, result.err
    assert stored(Paper.objects.get()) == {
        "arxiv_id": None,
        "external_key": "tag:lab.example.edu,2026-03-03:/blog/agocs",
        "version": None,
        "title": "AGOCS — an accurate Google cloud simulator",
        "abstract": AGOCS_ABSTRACT,
        "authors": ["Leszek Sliwko"],
        "affiliations": {},
        "categories": ["simulation"],
        "primary_category": "",
        "published": dt.datetime(2026, 3, 3, 8, 0, tzinfo=dt.UTC),
        "updated": dt.datetime(2026, 3, 3, 9, 0, tzinfo=dt.UTC),
        "announced_on": None,
        "announce_type": "",
        "abs_url": "https://lab.example.edu/blog/2026/03/agocs/",
        "pdf_url": "",
        "doi": "",
        "journal_ref": "",
        "comment": "",
        "upvotes": None,
        "source": "feed",
        "feed_url": "",
    }


def test_feed_over_http_twice_then_a_corrected_item_updates_in_place(fetch_papers, fakeweb):
    body = saved(JOURNAL).read_bytes()
    corrected = body.replace(
        b"Environment Execution Engine</title>", b"Environment Execution Engine (corrected)</title>"
    )
    fakeweb.route("/jps/rss", Reply(body=body), Reply(body=body), Reply(body=corrected))
    url = f"{fakeweb.url}/jps/rss"

    assert (
        fetch_papers("--source", "feed", "--url", url).summary == "fetched 2, created 2, updated 0, skipped 0"
    )
    row = Paper.objects.get(external_key="jps-2026-0142")
    assert stored(row) == envpool(url)
    assert (
        fetch_papers("--source", "feed", "--url", url).summary == "fetched 2, created 0, updated 0, skipped 2"
    )
    assert (
        fetch_papers("--source", "feed", "--url", url).summary == "fetched 2, created 0, updated 1, skipped 1"
    )

    assert Paper.objects.count() == 2
    assert stored(row) == envpool(url) | {
        "title": "EnvPool: A Highly Parallel Reinforcement Learning Environment Execution Engine (corrected)"
    }


def test_configured_feeds_are_fetched_one_by_one(fetch_papers, fakeweb, settings):
    settings.EXTRA_FEEDS = [f"{fakeweb.url}/jps/rss", f"{fakeweb.url}/blog/atom.xml", f"{fakeweb.url}/gone"]
    fakeweb.route("/jps/rss", Reply(body=saved(JOURNAL).read_bytes()))
    fakeweb.route("/blog/atom.xml", Reply(body=saved(BLOG).read_bytes()))
    fakeweb.route("/gone", Reply(410, body="gone"))

    result = fetch_papers("--source", "feed")

    # A dead feed is reported and recorded; the others are stored all the same.
    assert result.status == 1
    assert result.err == f"feed: HTTP 410 Gone from {fakeweb.url}/gone\n"
    assert result.summary == "fetched 3, created 3, updated 0, skipped 0"
    assert sorted(Paper.objects.values_list("feed_url", flat=True)) == sorted(
        [f"{fakeweb.url}/jps/rss"] * 2 + [f"{fakeweb.url}/blog/atom.xml"]
    )
    assert sorted(FetchRun.objects.values_list("params__url", "status")) == sorted(
        [
            (f"{fakeweb.url}/jps/rss", "ok"),
            (f"{fakeweb.url}/blog/atom.xml", "ok"),
            (f"{fakeweb.url}/gone", "failed"),
        ]
    )


HOSTILE = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>A feed</title><link>https://blog.example.org/</link>
  <item>
    <title>&lt;script&gt;alert("title")&lt;/script&gt;Click me</title>
    <link>javascript:alert(document.cookie)</link>
    <guid isPermaLink="false">post-1</guid>
    <description>&lt;p onclick="steal()"&gt;Hello &lt;script&gt;alert(1)&lt;/script&gt;world&lt;/p&gt;
    </description>
  </item>
  <item>
    <title>Relative</title>
    <link>/2026/03/relative/</link>
  </item>
</channel></rss>
"""


def test_hostile_items_are_stored_as_plain_text_without_script_links(fetch_papers, fakeweb):
    fakeweb.route("/feed", Reply(body=HOSTILE))
    url = f"{fakeweb.url}/feed"

    assert fetch_papers("--source", "feed", "--url", url).status == 0

    post = Paper.objects.get(external_key="post-1")
    assert post.abs_url == ""
    assert post.title == '<script>alert("title")</script>Click me'  # text: escaped wherever it is shown
    assert post.abstract == "Hello world"
    relative = Paper.objects.get(title="Relative")
    assert relative.abs_url == relative.external_key == f"{fakeweb.url}/2026/03/relative/"
