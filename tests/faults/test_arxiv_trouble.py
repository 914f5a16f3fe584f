"""arXiv answers 503, then an empty page, then a good page, to the fetch task in a worker.

An empty answer is not an empty listing: a 200 with no body (listings) or an API page with
no entries before the last result is a glitch, asked again like a 503, and never stored
as "no papers". (A well-formed listing with no items is arXiv saying nothing was
announced: see docs/reliability.md.) The good page is stored once, however often it comes.
"""

from __future__ import annotations

import pytest

from alerts.models import FetchRun, Paper
from alerts.tasks import fetch_papers_task
from tests.alerts.conftest import saved
from tests.fakeweb import Reply
from tests.servers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

LISTING = saved("arxiv_rss_cs.DC_2026-03-04.xml").read_bytes()
API_PAGES = [saved(f"arxiv_api_cs.DC_page{n}.xml").read_bytes() for n in (1, 2, 3)]
# The first API page with its entries cut off: it still says there are 15 results.
EMPTY_API_PAGE = API_PAGES[0].split(b"  <entry>")[0] + b"</feed>\n"
BUSY = Reply(503, body="Service Unavailable", headers={"Retry-After": "1"})


@pytest.fixture
def fetch_worker(celery_workers, fakeweb):
    return celery_workers(
        "fetcher",
        ARXIV_RSS_URL=f"{fakeweb.url}/rss/",
        ARXIV_API_URL=f"{fakeweb.url}/api/query",
        ARXIV_API_PAGE_SIZE="6",
        ARXIV_REQUEST_INTERVAL="0",
        FETCH_BACKOFF="0.1",
    )


def run_task(worker, runs_before: int, **kwargs) -> FetchRun:
    fetch_papers_task.delay(**kwargs)
    wait_until(
        lambda: FetchRun.objects.exclude(status=FetchRun.Status.RUNNING).count() > runs_before,
        30,
        f"the fetch:\n{worker.output()}",
    )
    return FetchRun.objects.order_by("-id").first()


def test_listing_503_then_empty_then_good_is_stored_once(fetch_worker, fakeweb):
    url = f"{fakeweb.url}/rss/cs.DC"
    fakeweb.route(
        "/rss/cs.DC", BUSY, Reply(body=b""), Reply(body=LISTING, content_type="application/rss+xml")
    )

    run = run_task(fetch_worker, 0, source="arxiv-rss", categories=["cs.DC"])

    assert (run.status, run.requests, run.created, run.error) == (FetchRun.Status.OK, 3, 7, "")
    assert run.notes.splitlines() == [
        f"retried after: HTTP 503 Service Unavailable from {url}",
        f"retried after: the response from {url} was empty",
    ]
    gaps = fakeweb.gaps()
    assert gaps[0] >= 0.95  # Retry-After: 1 was honoured

    again = run_task(fetch_worker, 1, source="arxiv-rss", categories=["cs.DC"])  # the good page again
    assert (again.status, again.created, again.updated, again.skipped) == (FetchRun.Status.OK, 0, 0, 7)
    assert Paper.objects.count() == 7


def test_api_503_then_an_empty_page_then_good_pages_are_stored_once(fetch_worker, fakeweb):
    fakeweb.route(
        "/api/query", BUSY, Reply(body=EMPTY_API_PAGE), Reply(body=API_PAGES[0]), query={"start": "0"}
    )
    fakeweb.route("/api/query", Reply(body=API_PAGES[1]), query={"start": "6"})
    fakeweb.route("/api/query", Reply(body=API_PAGES[2]), query={"start": "12"})

    run = run_task(fetch_worker, 0, source="arxiv-api", categories=["cs.DC"], date="2026-03-03")

    assert (run.status, run.requests, run.fetched, run.created) == (FetchRun.Status.OK, 5, 15, 15)
    problems = run.notes.splitlines()
    assert problems[0].startswith("retried after: HTTP 503 Service Unavailable from ")
    assert problems[1].startswith("retried after: arXiv API returned an empty page at start=0 of 15 results")
    assert len(problems) == 2

    again = run_task(fetch_worker, 1, source="arxiv-api", categories=["cs.DC"], date="2026-03-03")
    assert (again.status, again.created, again.skipped) == (FetchRun.Status.OK, 0, 15)
    assert Paper.objects.count() == 15
