"""HTTP fetching against a local server: retries, back-off, Retry-After, timeouts, size limits."""

import email.utils
import time

import pytest

from alerts.models import FetchRun, Paper
from alerts.papers.http import Fetcher, FetchError
from tests.alerts.conftest import saved
from tests.fakeweb import Reply
from tests.servers import free_port

LISTING = saved("arxiv_rss_cs.DC_2026-03-04.xml").read_bytes()


def fetcher(**overrides) -> Fetcher:
    options = {
        "user_agent": "paper-alerts-tests/1.0 (+http://localhost)",
        "timeout": 2.0,
        "retries": 3,
        "backoff": 0.01,
        "max_bytes": 1_000_000,
        "retry_after_max": 5.0,
    }
    return Fetcher(**(options | overrides))


@pytest.mark.django_db
def test_503_then_success(fetch_papers, arxiv_on):
    arxiv_on.route("/rss/cs.DC", Reply(503, body="busy"), Reply(body=LISTING))

    result = fetch_papers("--source", "arxiv-rss", "--category", "cs.DC")

    assert result.status == 0, result.err
    assert result.summary == "fetched 7, created 7, updated 0, skipped 0"
    assert len(arxiv_on.requests("/rss/cs.DC")) == 2
    assert FetchRun.objects.get().requests == 2


@pytest.mark.django_db
def test_a_timeout_then_success(fetch_papers, arxiv_on, settings):
    settings.FETCH_TIMEOUT = 0.3
    arxiv_on.route("/rss/cs.DC", Reply(body=LISTING, delay=1.0), Reply(body=LISTING))

    result = fetch_papers("--source", "arxiv-rss", "--category", "cs.DC")

    assert result.status == 0, result.err
    assert len(arxiv_on.requests()) == 2
    assert Paper.objects.count() == 7


@pytest.mark.django_db
def test_timeouts_until_the_retries_run_out(fetch_papers, arxiv_on, settings):
    settings.FETCH_TIMEOUT = 0.2
    settings.FETCH_RETRIES = 2
    arxiv_on.route("/rss/cs.DC", Reply(body=LISTING, delay=1.0))

    result = fetch_papers("--source", "arxiv-rss", "--category", "cs.DC")

    assert result.status == 1
    assert result.err == f"arxiv-rss: timed out after 0.2s fetching {arxiv_on.url}/rss/cs.DC\n"
    assert len(arxiv_on.requests()) == 3
    assert not Paper.objects.exists()
    assert FetchRun.objects.get().status == FetchRun.Status.FAILED


def test_retry_after_seconds_is_honoured(fakeweb):
    fakeweb.route("/x", Reply(429, headers={"Retry-After": "1"}), Reply(body=b"ok"))

    response = fetcher(backoff=0.01).get(f"{fakeweb.url}/x")

    assert response.body == b"ok"
    [gap] = fakeweb.gaps()
    assert 1.0 <= gap < 2.0


def test_retry_after_date_is_honoured(fakeweb):
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    fakeweb.route("/x", Reply(503, headers={"Retry-After": when}), Reply(body=b"ok"))

    assert fetcher().get(f"{fakeweb.url}/x").body == b"ok"

    [gap] = fakeweb.gaps()
    assert 0.9 <= gap < 3.0  # HTTP dates have whole seconds


def test_a_retry_after_too_long_to_wait_fails_at_once_as_transient(fakeweb):
    fakeweb.route("/x", Reply(503, headers={"Retry-After": "3600"}), Reply(body=b"ok"))

    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        fetcher(retry_after_max=5.0).get(f"{fakeweb.url}/x")

    assert time.monotonic() - started < 1.0
    assert caught.value.transient
    assert str(caught.value) == (
        f"HTTP 503 Service Unavailable from {fakeweb.url}/x, and it asks us to wait 3600s"
    )
    assert len(fakeweb.requests()) == 1


def test_back_off_grows_exponentially(fakeweb):
    fakeweb.route("/x", Reply(502), Reply(502), Reply(502), Reply(body=b"ok"))

    assert fetcher(backoff=0.1).get(f"{fakeweb.url}/x").body == b"ok"

    first, second, third = fakeweb.gaps()
    assert 0.1 <= first < 0.3
    assert 0.2 <= second < 0.4
    assert 0.4 <= third < 0.6


def test_client_errors_are_not_retried(fakeweb):
    fakeweb.route("/x", Reply(400, body="bad query"))

    with pytest.raises(FetchError) as caught:
        fetcher().get(f"{fakeweb.url}/x")

    assert not caught.value.transient
    assert caught.value.status == 400
    assert len(fakeweb.requests()) == 1


def test_unreachable_host_is_a_transient_error():
    url = f"http://127.0.0.1:{free_port()}/rss/cs.DC"  # nothing listens there

    with pytest.raises(FetchError) as caught:
        fetcher(retries=1).get(url)

    assert caught.value.transient
    assert str(caught.value).startswith(f"could not connect to {url}: ")


@pytest.mark.parametrize("send_length", [True, False], ids=["declared", "streamed"])
def test_too_large_response_is_refused(fakeweb, send_length):
    fakeweb.route("/big", Reply(body=b"x" * 300_000, send_length=send_length))

    with pytest.raises(FetchError) as caught:
        fetcher(max_bytes=100_000).get(f"{fakeweb.url}/big")

    assert not caught.value.transient
    assert "is too large" in str(caught.value)
    detail = "300000 bytes declared" if send_length else "stopped reading at"
    assert f"({detail}" in str(caught.value)
    assert "the limit is 100000 bytes)" in str(caught.value)
    assert len(fakeweb.requests()) == 1


@pytest.mark.django_db
def test_too_large_response_through_the_command(fetch_papers, arxiv_on, settings):
    settings.FETCH_MAX_BYTES = 10_000
    arxiv_on.route("/rss/cs.DC", Reply(body=LISTING, send_length=False))

    result = fetch_papers("--source", "arxiv-rss", "--category", "cs.DC")

    assert result.status == 1
    assert result.err == (
        f"arxiv-rss: response from {arxiv_on.url}/rss/cs.DC is too large "
        "(stopped reading at 15018 bytes; the limit is 10000 bytes)\n"
    )
    assert not Paper.objects.exists()


def test_spacing_holds_across_fetchers_and_retries(fakeweb):
    """One process, two fetchers (say a command and a task): arXiv still sees one request
    per interval, retries included."""
    fakeweb.route("/a", Reply(503), Reply(body=b"a"))
    fakeweb.route("/b", Reply(body=b"b"))

    fetcher().get(f"{fakeweb.url}/a", min_interval=0.25)
    fetcher().get(f"{fakeweb.url}/b", min_interval=0.25)

    assert [r.path for r in fakeweb.requests()] == ["/a", "/a", "/b"]
    assert all(0.24 <= gap < 0.6 for gap in fakeweb.gaps()), fakeweb.gaps()


def test_sends_a_descriptive_user_agent(fakeweb):
    fakeweb.route("/x", Reply(body=b"ok"))

    fetcher(user_agent="paper-alerts/1.0 (+https://alerts.example.org)").get(f"{fakeweb.url}/x")

    assert fakeweb.requests()[0].header("user-agent") == "paper-alerts/1.0 (+https://alerts.example.org)"
