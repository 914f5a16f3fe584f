"""The nightly arXiv fetch is bounded and keeps what it got: real categories only, at most
ARXIV_MAX_CATEGORIES_PER_RUN of them (the most wanted first), each listing stored as it
arrives, and a failing listing never costs the others their papers."""

import pytest
from django.core.management.base import CommandError
from django.db import connection

from alerts.models import FetchRun, Paper
from alerts.papers.selectors import CategoryDemand, arxiv_category_demand
from alerts.tasks import fetch_papers_task
from tests.alerts.conftest import saved
from tests.factories import SubscriberFactory, TopicFilterFactory
from tests.fakeweb import Reply

pytestmark = pytest.mark.django_db

DAY1 = "arxiv_rss_cs.DC_2026-03-04.xml"  # 7 papers
DAY2 = "arxiv_atom_cs.DC+math.CO_2026-03-05.xml"  # 4 papers
WEEKEND = "arxiv_rss_cs.DC_2026-03-07_weekend.xml"  # none


def subscribers_naming(query: str, count: int) -> None:
    for _ in range(count):
        TopicFilterFactory(subscriber=SubscriberFactory(filters=0), query=query)


def test_a_hundred_made_up_categories_in_ten_stored_filters_cost_no_request(fetch_papers, arxiv_on, settings):
    """The report: ten filters of 100 terms `cat:aaaa cat:aaab ...`, stored when any word was
    a category, made the nightly fetch ask arXiv for 1,000 listings, one every 3 s."""
    settings.ARXIV_CATEGORIES = ["cs.DC"]
    reader = SubscriberFactory(filters=0)
    for n in range(10):
        names = [f"{chr(97 + n)}a{chr(97 + i // 10)}{chr(97 + i % 10)}" for i in range(100)]
        TopicFilterFactory(subscriber=reader, query=" ".join(f"cat:{name}" for name in names))
    arxiv_on.route("/rss/cs.DC", Reply(body=saved(DAY1).read_bytes()))

    result = fetch_papers("--source", "arxiv-rss")

    assert (result.status, result.err) == (0, "")
    assert [r.path for r in arxiv_on.requests()] == ["/rss/cs.DC"]
    assert Paper.objects.count() == 7


def test_the_most_wanted_categories_first_and_the_rest_left_out_for_the_admin(
    fetch_papers, arxiv_on, settings, admin_client
):
    settings.ARXIV_CATEGORIES = ["cs.DC"]  # the operator's choice comes first
    settings.ARXIV_MAX_CATEGORIES_PER_RUN = 3
    subscribers_naming("cat:math.CO", 3)
    subscribers_naming("cat:hep-th OR cat:math.PR", 2)  # ties: by name
    subscribers_naming("cat:q-bio.NC", 1)
    subscribers_naming("cat:cs.LG", 1)
    for path in ("/rss/cs.DC", "/rss/math.CO", "/rss/hep-th"):
        arxiv_on.route(path, Reply(body=saved(WEEKEND).read_bytes()))

    assert arxiv_category_demand() == [
        CategoryDemand("cs.DC", 0, True),
        CategoryDemand("math.CO", 3, False),
        CategoryDemand("hep-th", 2, False),
        CategoryDemand("math.PR", 2, False),
        CategoryDemand("cs.LG", 1, False),
        CategoryDemand("q-bio.NC", 1, False),
    ]
    result = fetch_papers("--source", "arxiv-rss")

    assert (result.status, result.err) == (0, "")
    assert [r.path for r in arxiv_on.requests()] == ["/rss/cs.DC", "/rss/math.CO", "/rss/hep-th"]
    run = FetchRun.objects.get()
    assert run.left_out == ["math.PR", "cs.LG", "q-bio.NC"]
    assert run.notes.startswith(
        "3 categories left out (ARXIV_MAX_CATEGORIES_PER_RUN=3), "
        "those with the fewest subscribers: math.PR, cs.LG, q-bio.NC"
    )
    page = admin_client.get("/admin/alerts/fetchrun/?left_out=yes").content.decode()
    assert "3: math.PR, cs.LG, q-bio.NC" in page
    assert "0 fetch runs" in admin_client.get("/admin/alerts/fetchrun/?left_out=no").content.decode()


def test_an_archive_counts_the_subscribers_of_its_categories(settings):
    settings.ARXIV_CATEGORIES = []
    subscribers_naming("cat:cs.*", 1)
    subscribers_naming("cat:cs.LG", 2)
    subscribers_naming("cat:stat.ML", 2)
    TopicFilterFactory(subscriber=SubscriberFactory(filters=0, status="pending"), query="cat:math.CO")

    assert [(d.name, d.subscribers) for d in arxiv_category_demand()] == [
        ("cs", 3),
        ("stat.ML", 2),
    ]


def test_a_failing_listing_costs_only_its_own_papers(fetch_papers, arxiv_on, settings):
    settings.ARXIV_CATEGORIES = ["cs.DC", "math.CO", "math.PR"]
    settings.FETCH_RETRIES = 0
    arxiv_on.route("/rss/cs.DC", Reply(503, body="busy"))
    arxiv_on.route("/rss/math.CO", Reply(body=saved(DAY2).read_bytes()))
    arxiv_on.route("/rss/math.PR", Reply(body=saved(DAY1).read_bytes()))

    result = fetch_papers("--source", "arxiv-rss")

    error = f"arxiv-rss: HTTP 503 Service Unavailable from {arxiv_on.url}/rss/cs.DC"
    assert (result.status, result.err) == (1, error + "\n")
    assert [r.path for r in arxiv_on.requests()] == ["/rss/cs.DC", "/rss/math.CO", "/rss/math.PR"]
    assert Paper.objects.count() == 10  # both good listings stored
    run = FetchRun.objects.get()
    assert (run.status, run.error, run.requests, run.created) == ("failed", error, 3, 10)
    assert run.notes.splitlines()[0] == (
        f"the arXiv listing for cs.DC failed (HTTP 503 Service Unavailable from {arxiv_on.url}/rss/cs.DC); "
        "the other listings are stored"
    )


def test_two_transient_failures_in_a_row_stop_the_fetch(fetch_papers, arxiv_on, settings):
    settings.ARXIV_CATEGORIES = ["cs.DC", "math.CO", "math.PR", "stat.ML"]
    settings.FETCH_RETRIES = 0
    arxiv_on.route("/rss/cs.DC", Reply(body=saved(DAY1).read_bytes()))
    arxiv_on.route("/rss/math.CO", Reply(503, body="busy"))
    arxiv_on.route("/rss/math.PR", Reply(502, body="bad gateway"))

    result = fetch_papers("--source", "arxiv-rss")

    assert result.status == 1
    assert [r.path for r in arxiv_on.requests()] == ["/rss/cs.DC", "/rss/math.CO", "/rss/math.PR"]
    assert Paper.objects.count() == 7
    run = FetchRun.objects.get()
    assert run.notes.splitlines()[-1] == "stopped: arXiv is failing; 1 listings not tried"


@pytest.mark.django_db(transaction=True)
def test_each_listing_is_committed_before_the_next_request(fetch_papers, arxiv_on, settings):
    """Seen from another database connection (the fake arXiv's thread), as a reader would."""
    settings.ARXIV_CATEGORIES = ["cs.DC", "math.CO"]
    seen_when_asked: list[int] = []

    def second_listing(request):
        seen_when_asked.append(Paper.objects.count())  # this thread's own connection
        connection.close()
        return Reply(body=saved(DAY2).read_bytes())

    arxiv_on.route("/rss/cs.DC", Reply(body=saved(DAY1).read_bytes()))
    arxiv_on.route("/rss/math.CO", second_listing)

    assert fetch_papers("--source", "arxiv-rss").status == 0
    assert seen_when_asked == [7]
    assert FetchRun.objects.get().fetched == 11


def test_the_nightly_listings_tell_subscribers_whose_filters_name_unknown_categories(
    arxiv_on, settings, django_capture_on_commit_callbacks, mailoutbox
):
    settings.ARXIV_CATEGORIES = ["cs.DC"]
    reader = SubscriberFactory(email="ada@example.org", filters=0)
    TopicFilterFactory(subscriber=reader, name="Robots", query="cat:cs.ROO")
    arxiv_on.route("/rss/cs.DC", Reply(body=saved(DAY1).read_bytes()))

    with django_capture_on_commit_callbacks(execute=True):
        fetch_papers_task.apply(kwargs={"source": "arxiv-rss"})  # as beat runs it
        fetch_papers_task.apply(kwargs={"source": "arxiv-rss"})  # the next night: told once
        fetch_papers_task.apply(kwargs={"source": "arxiv-rss", "categories": ["cs.DC"]})

    assert [r.path for r in arxiv_on.requests()] == ["/rss/cs.DC"] * 3
    [email] = mailoutbox
    assert email.to == ["ada@example.org"]
    assert "cat:cs.ROO is not an arXiv category; did you mean cat:cs.RO?" in email.body


def test_the_command_takes_categories_as_arxiv_writes_them_and_suggests_for_the_rest(fetch_papers, arxiv_on):
    arxiv_on.route("/rss/cs.DC", Reply(body=saved(DAY1).read_bytes()))

    assert fetch_papers("--source", "arxiv-rss", "--category", "CS.dc").status == 0
    with pytest.raises(CommandError, match=r"^not an arXiv category: cs\.CLL \(did you mean cs\.CL\?\)$"):
        fetch_papers("--source", "arxiv-rss", "--category", "cs.CLL")
    assert [r.path for r in arxiv_on.requests()] == ["/rss/cs.DC"]
