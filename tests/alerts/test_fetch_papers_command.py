"""`manage.py fetch_papers`: the nightly set with no --source, and clear refusals of misuse."""

import os
import subprocess
import sys

import pytest
from django.core.management import CommandError
from django.utils import timezone

from alerts.models import FetchRun, Paper
from tests.alerts.conftest import saved
from tests.fakeweb import Reply
from tests.servers import ROOT

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


def run_manage_py(database_url: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_URL=database_url)
    env.update(DATA_DIR=str(tmp_path), REDIS_URL="")
    return subprocess.run(
        [sys.executable, "manage.py", "fetch_papers", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_on_the_command_line_stdout_and_stderr_say_one_line_each(database_url, tmp_path):
    broken = saved("broken_truncated_rss.xml")
    failed = run_manage_py(database_url, tmp_path, "--source", "arxiv-rss", "--file", str(broken))

    assert failed.returncode == 1
    assert failed.stderr == (
        f"arxiv-rss ({broken}): the document is truncated (XML ends unexpectedly at line 76, column 788)\n"
    )
    assert failed.stdout == "fetched 0, created 0, updated 0, skipped 0\n"

    listing = saved("arxiv_rss_cs.DC_2026-03-04.xml")
    done = run_manage_py(database_url, tmp_path, "--source", "arxiv-rss", "--file", str(listing))

    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "fetched 7, created 7, updated 0, skipped 0\n"
    assert Paper.objects.count() == 7
