"""`manage.py fetch_papers`: the nightly set with no --source, and clear refusals of misuse."""

import pytest
from django.core.management import CommandError
from django.utils import timezone

from alerts.models import FetchRun, Paper
from tests.alerts.conftest import saved
from tests.fakeweb import Reply

pytestmark = pytest.mark.django_db


def test_without_a_source_it_fetches_the_nightly_set(fetch_papers, arxiv_on, settings):
    settings.ARXIV_CATEGORIES = ["cs.DC"]
    settings.EXTRA_FEEDS = [f"{arxiv_on.url}/jps/rss"]
    arxiv_on.route("/rss/cs.DC", Reply(body=saved("arxiv_rss_cs.DC_2026-03-04.xml").read_bytes()))
    arxiv_on.route("/api/daily_papers", Reply(body=saved("hf_daily_2026-03-04.json").read_bytes()))
    arxiv_on.route("/jps/rss", Reply(body=saved("feed_journal_rss.xml").read_bytes()))

    result = fetch_papers()

    assert (result.status, result.err) == (0, "")
    # Listing: 7 created. Hugging Face (today's and yesterday's lists, the same 5 papers,
    # counted once): 3 created, 2 listed papers given upvotes. Journal: 2 created.
    assert result.out == "fetched 14, created 12, updated 2, skipped 0\n"
    assert Paper.objects.count() == 12
    assert sorted(FetchRun.objects.values_list("source", "status")) == [
        ("arxiv-rss", "ok"),
        ("feed", "ok"),
        ("hf-daily", "ok"),
    ]
    today = timezone.now().date().isoformat()
    assert next(r.param("date") for r in arxiv_on.requests("/api/daily_papers")) == today


def test_a_failing_source_does_not_stop_the_others(fetch_papers, arxiv_on, settings):
    settings.ARXIV_CATEGORIES = ["cs.DC"]
    settings.EXTRA_FEEDS = []
    arxiv_on.route("/rss/cs.DC", Reply(body=saved("broken_truncated_rss.xml").read_bytes()))
    arxiv_on.route("/api/daily_papers", Reply(body=saved("hf_daily_2026-03-04.json").read_bytes()))

    result = fetch_papers()

    assert result.status == 1
    assert result.err.count("\n") == 1
    assert result.err.startswith(f"arxiv-rss ({arxiv_on.url}/rss/cs.DC): the document is truncated")
    assert result.summary == "fetched 5, created 5, updated 0, skipped 0"
    assert not Paper.objects.filter(source="arxiv-rss").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--file", "x.xml"], "--file needs --source, to know how to read the file"),
        (["--url", "https://example.org/feed"], "--url needs --source, to know what the URL serves"),
        (
            ["--source", "hf-daily", "--category", "cs.LG"],
            "--category applies to arxiv-rss and arxiv-api, not hf-daily",
        ),
        (["--source", "arxiv-rss", "--category", "cs LG"], "not an arXiv category: cs LG"),
        (["--source", "arxiv-rss", "--date", "2026-03-04"], "--date does not apply to arxiv-rss"),
        (["--source", "hf-daily", "--date", "4 March"], "--date must be YYYY-MM-DD, not '4 March'"),
    ],
)
def test_misuse_is_refused_with_a_clear_message(fetch_papers, args, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fetch_papers(*args)
    assert not FetchRun.objects.exists()
