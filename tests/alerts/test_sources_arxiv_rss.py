"""arXiv listing feeds (RSS 2.0 and Atom, the 2024+ format), from a saved file and over HTTP."""

import datetime as dt

import pytest

from alerts.models import FetchRun, Paper
from alerts.papers.sources.arxiv_rss import split_authors
from tests.alerts.conftest import saved, stored
from tests.alerts.expected_papers import (
    CUCO_ABSTRACT,
    CUCO_TITLE,
    SDC_ABSTRACT,
    SDC_TITLE,
    USD_ABSTRACT,
    USD_TITLE,
)
from tests.factories import SubscriberFactory, TopicFilterFactory
from tests.fakeweb import Reply

pytestmark = pytest.mark.django_db

DAY1 = "arxiv_rss_cs.DC_2026-03-04.xml"  # RSS 2.0, cs.DC, Wed 4 March 2026: 7 announcements
DAY2 = "arxiv_atom_cs.DC+math.CO_2026-03-05.xml"  # Atom, cs.DC+math.CO, Thu 5 March 2026
WEEKEND = "arxiv_rss_cs.DC_2026-03-07_weekend.xml"

USD_AUTHORS = [
    "Colin Cooper",
    "Frederik Mallmann-Trenn",
    "Tomasz Radzik",
    "Nobutaka Shimizu",
    "Takeharu Shiraga",
]
USD_DAY1 = {
    "arxiv_id": "2603.02636",
    "external_key": None,
    "version": 1,
    "title": USD_TITLE,
    "abstract": USD_ABSTRACT,
    "authors": USD_AUTHORS,
    "affiliations": {},
    "categories": ["cs.DC", "cs.DM", "math.PR"],
    "primary_category": "cs.DC",
    "published": None,
    "updated": None,
    "announced_on": dt.date(2026, 3, 4),
    "announce_type": "new",
    "abs_url": "https://arxiv.org/abs/2603.02636",
    "pdf_url": "https://arxiv.org/pdf/2603.02636",
    "doi": "",
    "journal_ref": "",
    "comment": "",
    "upvotes": None,
    "source": "arxiv-rss",
    "feed_url": "",
}


def test_listing_file_stores_every_field(fetch_papers):
    result = fetch_papers("--source", "arxiv-rss", "--file", str(saved(DAY1)))

    assert result.status == 0, result.err
    assert result.err == ""
    assert result.summary == "fetched 7, created 7, updated 0, skipped 0"
    assert stored(Paper.objects.get(arxiv_id="2603.02636")) == USD_DAY1
    # A replacement with the optional DOI and journal reference arXiv adds to published papers.
    assert stored(Paper.objects.get(arxiv_id="2403.20135")) == {
        "arxiv_id": "2403.20135",
        "external_key": None,
        "version": 3,
        "title": SDC_TITLE,
        "abstract": SDC_ABSTRACT,
        "authors": [
            "Philip Freese",
            "Sebastian Götschel",
            "Thibaut Lunet",
            "Daniel Ruprecht",
            "Martin Schreiber",
        ],
        "affiliations": {},
        "categories": ["cs.DC", "math.NA"],
        "primary_category": "cs.DC",
        "published": None,
        "updated": None,
        "announced_on": dt.date(2026, 3, 4),
        "announce_type": "replace",
        "abs_url": "https://arxiv.org/abs/2403.20135",
        "pdf_url": "https://arxiv.org/pdf/2403.20135",
        "doi": "10.1177/10943420251400406",
        "journal_ref": "The International Journal of High Performance Computing Applications (2026)",
        "comment": "",
        "upvotes": None,
        "source": "arxiv-rss",
        "feed_url": "",
    }
    # Every announce type is kept, with the primary category arXiv lists first.
    assert dict(Paper.objects.values_list("arxiv_id", "announce_type")) == {
        "2603.02636": "new",
        "2603.02603": "new",
        "2603.02597": "new",
        "2603.02642": "cross",
        "2601.16536": "replace",
        "2403.20135": "replace",
        "2510.08976": "replace-cross",
    }
    assert Paper.objects.get(arxiv_id="2603.02642").primary_category == "cs.RO"
    assert Paper.objects.get(arxiv_id="2510.08976").version == 2
    run = FetchRun.objects.get()
    assert (run.source, run.status, run.params) == ("arxiv-rss", "ok", {"file": str(saved(DAY1))})
    assert (run.fetched, run.created, run.updated, run.skipped, run.requests) == (7, 7, 0, 0, 0)


def test_same_listing_twice_creates_nothing_new(fetch_papers):
    fetch_papers("--source", "arxiv-rss", "--file", str(saved(DAY1)))
    before = {p.arxiv_id: stored(p) for p in Paper.objects.all()}

    again = fetch_papers("--source", "arxiv-rss", "--file", str(saved(DAY1)))

    assert again.status == 0
    assert again.summary == "fetched 7, created 0, updated 0, skipped 7"
    assert {p.arxiv_id: stored(p) for p in Paper.objects.all()} == before


def test_next_listing_updates_new_versions_in_place_and_keeps_the_first_announcement(fetch_papers):
    fetch_papers("--source", "arxiv-rss", "--file", str(saved(DAY1)))
    first_row = Paper.objects.get(arxiv_id="2603.02636")

    result = fetch_papers("--source", "arxiv-rss", "--file", str(saved(DAY2)))

    assert result.status == 0, result.err
    # 2 new papers, 2603.02636 replaced by v2 and cross-listed into math.CO, 2602.21626 first seen as replace.
    assert result.summary == "fetched 4, created 3, updated 1, skipped 0"
    assert Paper.objects.filter(arxiv_id="2603.02636").count() == 1
    row = Paper.objects.get(arxiv_id="2603.02636")
    assert row.pk == first_row.pk
    assert row.first_seen_at == first_row.first_seen_at
    assert stored(row) == USD_DAY1 | {
        "version": 2,
        "categories": ["cs.DC", "cs.DM", "math.PR", "math.CO"],
    }
    assert stored(Paper.objects.get(arxiv_id="2603.02376")) == {
        "arxiv_id": "2603.02376",
        "external_key": None,
        "version": 1,
        "title": CUCO_TITLE,
        "abstract": CUCO_ABSTRACT,
        "authors": ["Bodun Hu", "Yoga Sri Varshan", "Saurabh Agarwal", "Aditya Akella"],
        "affiliations": {},
        "categories": ["cs.DC", "cs.AI"],
        "primary_category": "cs.DC",
        "published": None,
        "updated": None,
        "announced_on": dt.date(2026, 3, 5),
        "announce_type": "new",
        "abs_url": "https://arxiv.org/abs/2603.02376",
        "pdf_url": "https://arxiv.org/pdf/2603.02376",
        "doi": "",
        "journal_ref": "",
        "comment": "",
        "upvotes": None,
        "source": "arxiv-rss",
        "feed_url": "",
    }


def test_an_older_version_seen_later_changes_nothing(fetch_papers):
    fetch_papers("--source", "arxiv-rss", "--file", str(saved(DAY2)))  # 2603.02636v2
    before = stored(Paper.objects.get(arxiv_id="2603.02636"))

    result = fetch_papers("--source", "arxiv-rss", "--file", str(saved(DAY1)))  # 2603.02636v1

    assert result.status == 0
    row = stored(Paper.objects.get(arxiv_id="2603.02636"))
    assert row["version"] == 2
    assert row["announced_on"] == before["announced_on"] == dt.date(2026, 3, 5)
    assert row == before


def test_empty_weekend_listing_is_not_an_error(fetch_papers):
    result = fetch_papers("--source", "arxiv-rss", "--file", str(saved(WEEKEND)))

    assert (result.status, result.err) == (0, "")
    assert result.out == "fetched 0, created 0, updated 0, skipped 0\n"
    assert not Paper.objects.exists()
    assert FetchRun.objects.get().status == FetchRun.Status.OK


def test_listings_over_http_join_categories_with_plus(fetch_papers, arxiv_on, settings):
    settings.ARXIV_RSS_CATEGORIES_PER_REQUEST = 2
    arxiv_on.route(
        "/rss/cs.DC+math.CO", Reply(body=saved(DAY2).read_bytes(), content_type="application/atom+xml")
    )

    result = fetch_papers("--source", "arxiv-rss", "--category", "cs.DC", "--category", "math.CO")

    assert result.status == 0, result.err
    assert result.summary == "fetched 4, created 4, updated 0, skipped 0"
    [request] = arxiv_on.requests()
    assert request.path == "/rss/cs.DC+math.CO"
    assert request.header("User-Agent") == settings.FETCH_USER_AGENT
    assert stored(Paper.objects.get(arxiv_id="2603.02376"))["announced_on"] == dt.date(2026, 3, 5)
    run = FetchRun.objects.get()
    assert (run.status, run.requests, run.params) == ("ok", 1, {"categories": ["cs.DC", "math.CO"]})


def test_nightly_listings_fetch_each_category_in_use_once(fetch_papers, arxiv_on, settings):
    settings.ARXIV_CATEGORIES = ["cs.DC", "math.CO", "cs", "cs.LG"]  # "cs" covers cs.DC and cs.LG
    settings.ARXIV_RSS_CATEGORIES_PER_REQUEST = 1
    arxiv_on.route("/rss/cs", Reply(body=saved(DAY1).read_bytes()))
    arxiv_on.route("/rss/math.CO", Reply(body=saved(DAY2).read_bytes()))

    result = fetch_papers("--source", "arxiv-rss")

    assert result.status == 0, result.err
    assert [r.path for r in arxiv_on.requests()] == ["/rss/cs", "/rss/math.CO"]
    # Each listing stored as it arrives: 7 + 4 announcements of 10 distinct papers, the one
    # in both listings created by the first and updated by the second.
    assert result.summary == "fetched 11, created 10, updated 1, skipped 0"
    assert Paper.objects.get(arxiv_id="2603.02636").version == 2
    assert Paper.objects.get(arxiv_id="2603.02636").announced_on == dt.date(2026, 3, 4)


def test_same_listing_over_http_twice_changes_nothing(fetch_papers, arxiv_on):
    arxiv_on.route("/rss/cs.DC", Reply(body=saved(DAY1).read_bytes()))

    assert fetch_papers("--source", "arxiv-rss", "--category", "cs.DC").summary == (
        "fetched 7, created 7, updated 0, skipped 0"
    )
    assert fetch_papers("--source", "arxiv-rss", "--category", "cs.DC").summary == (
        "fetched 7, created 0, updated 0, skipped 7"
    )
    assert Paper.objects.count() == 7


@pytest.mark.parametrize(
    ("creator", "names"),
    [
        ("Antonin Monteil, Paul Pegon", ["Antonin Monteil", "Paul Pegon"]),
        ("Paul Borrill", ["Paul Borrill"]),
        ("Robert L. Smith, Jr., Jane Doe", ["Robert L. Smith Jr.", "Jane Doe"]),
        (
            "Martin Luther King Jr., A. B. Sr, Henry Ford III",
            ["Martin Luther King Jr.", "A. B. Sr", "Henry Ford III"],
        ),
        ("Alice Smith and Bob Lee", ["Alice Smith", "Bob Lee"]),
        ("A. Anderson, B. Sandoval, and C. Andrews", ["A. Anderson", "B. Sandoval", "C. Andrews"]),
        (
            "  Jiawei Wang,\n   Arshiya Taj Abdul ,Evangelos A. Theodorou ",
            ["Jiawei Wang", "Arshiya Taj Abdul", "Evangelos A. Theodorou"],
        ),
        ("", []),
    ],
)
def test_one_string_author_lists_split_into_names(creator, names):
    assert split_authors(creator) == names


def test_a_category_arxiv_has_no_listing_for_is_skipped_and_noted(fetch_papers, arxiv_on, settings):
    settings.ARXIV_CATEGORIES = ["cs.DC", "cs.GL"]  # a real category whose listing has gone
    arxiv_on.route("/rss/cs.DC", Reply(body=saved(DAY1).read_bytes()))
    arxiv_on.route("/rss/cs.GL", Reply(404, body="not found"))

    result = fetch_papers("--source", "arxiv-rss")

    assert (result.status, result.err) == (0, "")
    assert result.summary == "fetched 7, created 7, updated 0, skipped 0"
    run = FetchRun.objects.get()
    assert run.status == FetchRun.Status.OK
    assert (
        run.notes == f"no arXiv listing for cs.GL (HTTP 404 Not Found from {arxiv_on.url}/rss/cs.GL); skipped"
    )


def test_a_configured_category_arxiv_does_not_have_is_never_asked_for(
    fetch_papers, arxiv_on, settings, caplog
):
    settings.ARXIV_CATEGORIES = ["cs.DC", "node.JS"]
    arxiv_on.route("/rss/cs.DC", Reply(body=saved(DAY1).read_bytes()))

    result = fetch_papers("--source", "arxiv-rss")

    assert (result.status, result.err) == (0, "")
    assert [r.path for r in arxiv_on.requests()] == ["/rss/cs.DC"]
    assert "ARXIV_CATEGORIES: 'node.JS' is not an arXiv category; skipped" in caplog.text


def test_no_listing_at_all_is_a_failure(fetch_papers, arxiv_on, settings):
    settings.ARXIV_CATEGORIES = ["cs.DC"]
    arxiv_on.route("/rss/cs.DC", Reply(404, body="not found"))

    result = fetch_papers("--source", "arxiv-rss")

    assert result.status == 1
    assert result.err == f"arxiv-rss: HTTP 404 Not Found from {arxiv_on.url}/rss/cs.DC\n"
    assert FetchRun.objects.get().status == FetchRun.Status.FAILED


def test_categories_named_by_active_filters_are_fetched_too(fetch_papers, arxiv_on, settings, caplog):
    settings.ARXIV_CATEGORIES = ["cs.DC"]
    settings.ARXIV_RSS_CATEGORIES_PER_REQUEST = 1
    reader = SubscriberFactory(filters=0)
    TopicFilterFactory(subscriber=reader, query="cat:math.CO AND ti:graph")
    TopicFilterFactory(subscriber=reader, query="cat:cs.* ANDNOT au:lecun")  # the archive covers cs.DC
    TopicFilterFactory(
        subscriber=reader, query="(cat:hep-th", is_active=True
    )  # stored before a parser change
    TopicFilterFactory(subscriber=reader, query="cat:q-bio.NC", is_active=False)
    TopicFilterFactory(subscriber=SubscriberFactory(filters=0, status="pending"), query="cat:astro-ph.GA")
    TopicFilterFactory(subscriber=SubscriberFactory(filters=0), query="cat:math.CO OR cat:math.PR")
    for path in ("/rss/cs", "/rss/math.CO", "/rss/math.PR"):
        arxiv_on.route(path, Reply(body=saved(WEEKEND).read_bytes()))

    result = fetch_papers("--source", "arxiv-rss")

    assert result.status == 0, result.err
    assert sorted(r.path for r in arxiv_on.requests()) == ["/rss/cs", "/rss/math.CO", "/rss/math.PR"]
    assert "topic filter '(cat:hep-th' does not parse" in caplog.text
