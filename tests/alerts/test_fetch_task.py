"""The fetch task: through a real Celery worker, and its retry rule (transient errors only)."""

import time

import pytest

from alerts.models import FetchRun, Paper
from alerts.tasks import TransientFetchError, fetch_papers_task
from tests.alerts.conftest import saved
from tests.fakeweb import Reply


def wait_for(condition, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.django_db(transaction=True)
def test_nightly_fetch_runs_in_a_worker(celery_workers, fakeweb):
    fakeweb.route("/rss/cs.DC", Reply(body=saved("arxiv_rss_cs.DC_2026-03-04.xml").read_bytes()))
    fakeweb.route("/api/daily_papers", Reply(body=saved("hf_daily_2026-03-04.json").read_bytes()))
    worker = celery_workers(
        ARXIV_RSS_URL=f"{fakeweb.url}/rss/",
        HF_DAILY_URL=f"{fakeweb.url}/api/daily_papers",
        ARXIV_CATEGORIES="cs.DC",
        EXTRA_FEEDS="",
        ARXIV_REQUEST_INTERVAL="0",
    )

    fetch_papers_task.delay()  # the nightly set: one task per source

    runs = wait_for(
        lambda: FetchRun.objects.filter(status=FetchRun.Status.OK).count() == 2,
        what=f"both fetches; worker log:\n{worker.output()}",
    )
    assert runs
    assert set(FetchRun.objects.values_list("source", "status")) == {("arxiv-rss", "ok"), ("hf-daily", "ok")}
    # 7 listed papers, 5 on Hugging Face's list, 2 of them in both.
    assert Paper.objects.count() == 10
    assert Paper.objects.get(arxiv_id="2603.02642").upvotes == 12
    assert {r.path for r in fakeweb.requests()} == {"/rss/cs.DC", "/api/daily_papers"}
    assert all(r.header("User-Agent", "").startswith("paper-alerts/") for r in fakeweb.requests())


@pytest.mark.django_db
def test_transient_failures_are_retried_then_recorded(arxiv_on, settings):
    settings.FETCH_RETRIES = 0
    arxiv_on.route("/rss/cs.DC", Reply(503, body="busy"))

    result = fetch_papers_task.apply(kwargs={"source": "arxiv-rss", "categories": ["cs.DC"]})

    assert result.failed()
    assert isinstance(result.result, TransientFetchError)
    attempts = fetch_papers_task.max_retries + 1
    assert len(arxiv_on.requests()) == attempts
    assert FetchRun.objects.filter(status=FetchRun.Status.FAILED).count() == attempts
    assert set(FetchRun.objects.values_list("error", flat=True)) == {
        f"arxiv-rss: HTTP 503 Service Unavailable from {arxiv_on.url}/rss/cs.DC"
    }


@pytest.mark.django_db
def test_permanent_failures_are_not_retried(arxiv_on):
    arxiv_on.route("/rss/cs.DC", Reply(body=saved("broken_malformed_rss.xml").read_bytes()))

    result = fetch_papers_task.apply(kwargs={"source": "arxiv-rss", "categories": ["cs.DC"]})

    assert result.failed()
    assert "malformed XML" in str(result.result)
    assert len(arxiv_on.requests()) == 1
    assert FetchRun.objects.get().status == FetchRun.Status.FAILED
    assert not Paper.objects.exists()
