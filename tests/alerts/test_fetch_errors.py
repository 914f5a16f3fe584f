"""Bad input never reaches the papers: exit status 1, one clear line, the table exactly as before,
and the failure recorded where an admin sees it."""

import pytest

from alerts.models import FetchRun
from tests.alerts.conftest import saved, table_snapshot
from tests.fakeweb import Reply

pytestmark = pytest.mark.django_db

BROKEN = [
    (
        "arxiv-rss",
        "broken_malformed_rss.xml",
        "arxiv-rss ({path}): malformed XML at line 45, column 66: mismatched tag",
    ),
    (
        "arxiv-rss",
        "broken_wrong_encoding_rss.xml",
        "arxiv-rss ({path}): wrong encoding declaration "
        "(document declared as utf-8, but parsed as windows-1252)",
    ),
    (
        "arxiv-rss",
        "broken_truncated_rss.xml",
        "arxiv-rss ({path}): the document is truncated (XML ends unexpectedly at line 76, column 788)",
    ),
    (
        "arxiv-api",
        "arxiv_api_error.xml",
        "arxiv-api ({path}): arXiv answered with an error: incorrect id format for 1234.12345",
    ),
    (
        "hf-daily",
        "broken_invalid_hf.json",
        "hf-daily ({path}): invalid JSON at line 83, column 21: "
        "Expecting property name enclosed in double quotes",
    ),
    ("hf-daily", "broken_shape_hf.json", "hf-daily ({path}): expected a list of papers, got a JSON object"),
    (
        "arxiv-api",
        "arxiv_rss_cs.DC_2026-03-04.xml",
        "arxiv-api ({path}): not an arXiv API response (no opensearch:totalResults)",
    ),
    (
        "feed",
        "hf_daily_2026-03-04.json",
        'feed ({path}): not an RSS or Atom feed (not XML; it starts with \'[ { "paper": { "id": "26\')',
    ),
]


@pytest.fixture
def papers_already_stored(fetch_papers):
    """A database with papers in it, so that "exactly as before" means something."""
    assert (
        fetch_papers("--source", "arxiv-rss", "--file", str(saved("arxiv_rss_cs.DC_2026-03-04.xml"))).status
        == 0
    )
    assert fetch_papers("--source", "hf-daily", "--file", str(saved("hf_daily_2026-03-04.json"))).status == 0
    return table_snapshot()


@pytest.mark.parametrize(("source", "name", "message"), BROKEN, ids=[name for _, name, _ in BROKEN])
def test_bad_saved_response_exits_1_with_one_line_and_stores_nothing(
    fetch_papers, papers_already_stored, source, name, message
):
    path = saved(name)

    result = fetch_papers("--source", source, "--file", str(path))

    assert result.status == 1
    assert result.err == message.replace("{path}", str(path)) + "\n"
    assert result.out == "fetched 0, created 0, updated 0, skipped 0\n"
    assert table_snapshot() == papers_already_stored
    run = FetchRun.objects.filter(status=FetchRun.Status.FAILED).get()
    assert (run.source, run.error) == (source, message.replace("{path}", str(path)))


def test_bad_response_over_http_names_the_url(fetch_papers, arxiv_on, papers_already_stored):
    arxiv_on.route("/rss/cs.DC", Reply(body=saved("broken_truncated_rss.xml").read_bytes()))

    result = fetch_papers("--source", "arxiv-rss", "--category", "cs.DC")

    assert result.status == 1
    assert result.err == (
        f"arxiv-rss ({arxiv_on.url}/rss/cs.DC): "
        "the document is truncated (XML ends unexpectedly at line 76, column 788)\n"
    )
    assert table_snapshot() == papers_already_stored


def test_one_bad_listing_costs_only_its_own_papers(fetch_papers, arxiv_on, settings, papers_already_stored):
    """arXiv's listings are stored one by one: a broken listing fails the fetch (exit 1, its
    error recorded) but the listings after it are still fetched, and theirs are kept."""
    settings.ARXIV_RSS_CATEGORIES_PER_REQUEST = 1
    arxiv_on.route("/rss/math.PR", Reply(body=saved("broken_malformed_rss.xml").read_bytes()))
    arxiv_on.route("/rss/math.CO", Reply(body=saved("arxiv_atom_cs.DC+math.CO_2026-03-05.xml").read_bytes()))

    result = fetch_papers("--source", "arxiv-rss", "--category", "math.PR", "--category", "math.CO")

    assert result.status == 1
    assert [r.path for r in arxiv_on.requests()] == ["/rss/math.PR", "/rss/math.CO"]
    error = f"arxiv-rss ({arxiv_on.url}/rss/math.PR): malformed XML at line 45, column 66: mismatched tag"
    assert result.err == error + "\n"
    assert result.summary == "fetched 4, created 2, updated 2, skipped 0"  # math.CO's listing
    assert table_snapshot() != papers_already_stored
    run = FetchRun.objects.get(status=FetchRun.Status.FAILED)
    assert (run.error, run.requests, run.fetched, run.created) == (error, 2, 4, 2)
    assert run.notes == f"the arXiv listing for math.PR failed ({error}); the other listings are stored"


def test_http_error_exits_1_and_is_recorded(fetch_papers, arxiv_on, papers_already_stored):
    arxiv_on.route("/api/daily_papers", Reply(404, body='{"error": "not found"}'))

    result = fetch_papers("--source", "hf-daily", "--date", "2026-03-04")

    assert result.status == 1
    url = f"{arxiv_on.url}/api/daily_papers?date=2026-03-04&limit=100"
    assert result.err == f"hf-daily: HTTP 404 Not Found from {url}\n"
    assert len(arxiv_on.requests()) == 1  # a 404 is not retried
    assert table_snapshot() == papers_already_stored
    run = FetchRun.objects.get(status=FetchRun.Status.FAILED)
    assert (run.error, run.requests, run.params) == (result.err.strip(), 1, {"date": "2026-03-04"})


def test_missing_file_is_one_clear_line(fetch_papers, tmp_path):
    result = fetch_papers("--source", "arxiv-rss", "--file", str(tmp_path / "nope.xml"))

    assert result.status == 1
    assert (
        result.err
        == f"arxiv-rss ({tmp_path / 'nope.xml'}): cannot read the file: No such file or directory\n"
    )


def test_failed_fetch_shows_in_the_admin(fetch_papers, admin_client):
    path = saved("broken_truncated_rss.xml")
    fetch_papers("--source", "arxiv-rss", "--file", str(path))

    page = admin_client.get("/admin/alerts/fetchrun/?status__exact=failed")

    assert page.status_code == 200
    text = page.content.decode()
    assert "the document is truncated (XML ends unexpectedly at line 76, column 788)" in text
    assert "arxiv-rss" in text
    run = FetchRun.objects.get()
    detail = admin_client.get(f"/admin/alerts/fetchrun/{run.pk}/change/")
    assert detail.status_code == 200
    assert str(path) in detail.content.decode()
