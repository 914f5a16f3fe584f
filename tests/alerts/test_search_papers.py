"""python manage.py search_papers "QUERY" [--since YYYY-MM-DD] [--limit N] [--json]"""

import datetime as dt
import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from alerts.models import Paper
from tests.factories import PaperFactory
from tests.servers import ROOT

pytestmark = pytest.mark.django_db


def search(*args: str) -> str:
    out = StringIO()
    call_command("search_papers", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def papers():
    return [
        PaperFactory(
            arxiv_id="2603.00001",
            title="Score-based diffusion models",
            abstract="Diffusion models generate images by denoising.",
            authors=["Bernhard Schölkopf"],
            categories=["cs.CV", "cs.LG"],
            announced_on=dt.date(2026, 3, 2),
        ),
        PaperFactory(
            arxiv_id="2603.00002",
            title="Sparse attention for long contexts",
            abstract="Information diffusion through attention heads.",
            authors=["Yann LeCun"],
            categories=["cs.CL"],
            announced_on=dt.date(2026, 3, 3),
        ),
        PaperFactory(
            arxiv_id="2603.00003",
            title="Robot grasping",
            abstract="A self-supervised grasping policy.",
            authors=["Adrian Del Maestro"],
            categories=["cs.RO"],
            announced_on=dt.date(2026, 3, 4),
        ),
    ]


def test_best_match_first(papers):
    lines = search("diffusion").splitlines()
    assert [line.split()[0] for line in lines] == ["2603.00001", "2603.00002"]
    assert lines[0] == "2603.00001   3.0  Score-based diffusion models"


def test_json_lists_id_title_score_terms_and_categories(papers):
    result = json.loads(search("au:del_maestro OR ti:diffusion", "--json"))
    assert [(r["arxiv_id"], r["title"]) for r in result] == [
        ("2603.00001", "Score-based diffusion models"),
        ("2603.00003", "Robot grasping"),
    ]
    assert result[0]["score"] == 2.0
    assert result[0]["terms"] == ["diffus"]
    assert result[0]["categories"] == ["cs.CV", "cs.LG"]
    assert result[0]["authors"] == ["Bernhard Schölkopf"]
    assert result[0]["announced_on"] == "2026-03-02"
    assert result[0]["abs_url"] == "https://arxiv.org/abs/2603.00001"


def test_since_and_limit(papers):
    assert [r["arxiv_id"] for r in json.loads(search("diffusion", "--since", "2026-03-03", "--json"))] == [
        "2603.00002"
    ]
    assert len(json.loads(search("--limit", "2", "--json", "--", "-cat:math.*"))) == 2
    assert search("quantum") == ""


def test_papers_without_an_announcement_date_count_by_when_they_were_stored():
    PaperFactory(
        arxiv_id=None, external_key="https://example.org/p/1", title="Diffusion for feeds", announced_on=None
    )
    Paper.objects.update(first_seen_at=dt.datetime(2026, 3, 5, tzinfo=dt.UTC))
    assert "Diffusion for feeds" in search("diffusion", "--since", "2026-03-05")
    assert search("diffusion", "--since", "2026-03-06") == ""


def test_titles_cannot_send_terminal_escapes(papers):
    PaperFactory(arxiv_id="2603.00009", title="Diffusion \x1b[2J\x1b]0;owned\x07 title")
    line = next(line for line in search("ti:title").splitlines() if line.startswith("2603.00009"))
    assert line == "2603.00009   2.0  Diffusion  [2J ]0;owned  title"


def test_invalid_query_is_an_error_with_status_2(papers):
    with pytest.raises(CommandError) as raised:
        search("diffusion AND (models")
    assert raised.value.returncode == 2
    assert str(raised.value) == (
        "unbalanced parenthesis: '(' is never closed (column 15)\n  diffusion AND (models\n                ^"
    )


@pytest.mark.parametrize("args", [["--since", "2026-13-01"], ["--limit", "0"]])
def test_bad_options_are_refused(args):
    with pytest.raises(CommandError, match="expected"):
        search("diffusion", *args)


def test_the_command_exits_2_and_prints_the_message(database_url):
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings.test", DATABASE_URL=database_url)
    done = subprocess.run(
        [sys.executable, "manage.py", "search_papers", "ti:diffusion AND"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "dangling operator 'AND': nothing follows it (column 14)" in done.stderr
    assert done.stdout == ""
