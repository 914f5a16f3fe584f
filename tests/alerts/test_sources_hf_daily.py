"""Hugging Face daily papers: creates what arXiv has not listed yet, enriches what it has."""

import datetime as dt

import pytest
from django.utils import timezone

from alerts.models import FetchRun, Paper
from tests.alerts.conftest import saved, stored
from tests.alerts.expected_papers import LLMCOMPILER_ABSTRACT
from tests.fakeweb import Reply

pytestmark = pytest.mark.django_db

MORNING = "hf_daily_2026-03-04.json"
EVENING = "hf_daily_2026-03-04_evening.json"  # the same list, upvotes moved on
LLMCOMPILER_FROM_HF = {
    "arxiv_id": "2312.04511",
    "external_key": None,
    "version": None,
    "title": "An LLM Compiler for Parallel Function Calling",
    "abstract": LLMCOMPILER_ABSTRACT,
    "authors": [
        "Sehoon Kim",
        "Suhong Moon",
        "Ryan Tabrizi",
        "Nicholas Lee",
        "Michael W. Mahoney",
        "Kurt Keutzer",
        "Amir Gholami",
    ],
    "affiliations": {},
    "categories": [],
    "primary_category": "",
    "published": dt.datetime(2023, 12, 7, 18, 32, 4, tzinfo=dt.UTC),
    "updated": None,
    "announced_on": None,
    "announce_type": "",
    "abs_url": "https://arxiv.org/abs/2312.04511",
    "pdf_url": "https://arxiv.org/pdf/2312.04511",
    "doi": "",
    "journal_ref": "",
    "comment": "",
    "upvotes": 45,
    "source": "hf-daily",
    "feed_url": "",
}


def test_daily_papers_file_creates_papers_arxiv_has_not_given_yet(fetch_papers):
    result = fetch_papers("--source", "hf-daily", "--file", str(saved(MORNING)))

    assert result.status == 0, result.err
    assert result.summary == "fetched 5, created 5, updated 0, skipped 0"
    assert stored(Paper.objects.get(arxiv_id="2312.04511")) == LLMCOMPILER_FROM_HF
    assert dict(Paper.objects.values_list("arxiv_id", "upvotes")) == {
        "2603.02597": 31,
        "2603.02642": 12,
        "2603.02510": 18,
        "2312.04511": 45,
        "1806.03377": 7,
    }


def test_daily_papers_add_upvotes_without_clobbering_arxiv_metadata(fetch_papers):
    fetch_papers("--source", "arxiv-rss", "--file", str(saved("arxiv_rss_cs.DC_2026-03-04.xml")))
    fetch_papers("--source", "arxiv-api", "--file", str(saved("arxiv_api_cs.DC_page1.xml")))
    before = {p.arxiv_id: stored(p) for p in Paper.objects.all()}

    result = fetch_papers("--source", "hf-daily", "--file", str(saved(MORNING)))

    assert result.status == 0, result.err
    # 2 of the 5 are arXiv rows already: only their upvotes change; 3 are new.
    assert result.summary == "fetched 5, created 3, updated 2, skipped 0"
    # Hugging Face's publishedAt for cuNRTO differs from arXiv's: arXiv's stays.
    assert stored(Paper.objects.get(arxiv_id="2603.02642")) == before["2603.02642"] | {"upvotes": 12}
    # GPUTOK came from the listing only, which has no submission date: Hugging Face fills that blank.
    assert stored(Paper.objects.get(arxiv_id="2603.02597")) == before["2603.02597"] | {
        "upvotes": 31,
        "published": dt.datetime(2026, 3, 3, 4, 48, 28, tzinfo=dt.UTC),
    }
    unchanged = set(before) - {"2603.02642", "2603.02597"}
    assert {p.arxiv_id: stored(p) for p in Paper.objects.filter(arxiv_id__in=unchanged)} == {
        key: before[key] for key in unchanged
    }


def test_arxiv_fills_in_a_paper_hugging_face_created(fetch_papers):
    fetch_papers("--source", "hf-daily", "--file", str(saved(MORNING)))
    from_hf = Paper.objects.get(arxiv_id="2603.02510")
    assert len(from_hf.authors) == 4  # Hugging Face listed only some of them

    fetch_papers("--source", "arxiv-rss", "--file", str(saved("arxiv_atom_cs.DC+math.CO_2026-03-05.xml")))

    row = Paper.objects.get(arxiv_id="2603.02510")
    assert row.pk == from_hf.pk
    assert row.source == "arxiv-rss"
    assert row.version == 1
    assert row.upvotes == 18
    assert row.announced_on == dt.date(2026, 3, 5)
    assert row.categories == ["cs.DC", "cs.AI", "cs.LG"]
    assert row.authors == [
        "Liu Yang",
        "Zeyu Nie",
        "Andrew Liu",
        "Felix Zou",
        "Deniz Altinbüken",
        "Amir Yazdanbakhsh",
        "Quanquan C. Liu",
    ]
    # A later Hugging Face refresh only moves the upvotes.
    fetch_papers("--source", "hf-daily", "--file", str(saved(EVENING)))
    row.refresh_from_db()
    assert (row.upvotes, row.source, len(row.authors)) == (25, "arxiv-rss", 7)


def test_upvotes_refresh_through_the_day(fetch_papers):
    fetch_papers("--source", "hf-daily", "--file", str(saved(MORNING)))
    assert fetch_papers("--source", "hf-daily", "--file", str(saved(MORNING))).summary == (
        "fetched 5, created 0, updated 0, skipped 5"
    )

    result = fetch_papers("--source", "hf-daily", "--file", str(saved(EVENING)))

    assert result.summary == "fetched 5, created 0, updated 4, skipped 1"
    assert dict(Paper.objects.values_list("arxiv_id", "upvotes")) == {
        "2603.02597": 58,
        "2603.02642": 20,
        "2603.02510": 25,
        "2312.04511": 51,
        "1806.03377": 7,
    }
    assert Paper.objects.count() == 5


def test_daily_papers_over_http(fetch_papers, arxiv_on):
    arxiv_on.route(
        "/api/daily_papers", Reply(body=saved(MORNING).read_bytes(), content_type="application/json")
    )

    result = fetch_papers("--source", "hf-daily", "--date", "2026-03-04")

    assert result.status == 0, result.err
    assert result.summary == "fetched 5, created 5, updated 0, skipped 0"
    [request] = arxiv_on.requests()
    assert (request.param("date"), request.param("limit")) == ("2026-03-04", "100")
    assert request.header("Accept") == "application/json"
    assert stored(Paper.objects.get(arxiv_id="2312.04511")) == LLMCOMPILER_FROM_HF


def test_without_a_date_today_and_yesterday_are_refreshed(fetch_papers, arxiv_on):
    today = timezone.now().date()
    yesterday = today - dt.timedelta(days=1)
    arxiv_on.route("/api/daily_papers", Reply.json([]), query={"date": today.isoformat()})
    arxiv_on.route(
        "/api/daily_papers", Reply(body=saved(EVENING).read_bytes()), query={"date": yesterday.isoformat()}
    )

    result = fetch_papers("--source", "hf-daily")

    assert result.status == 0, result.err
    assert result.summary == "fetched 5, created 5, updated 0, skipped 0"
    assert [r.param("date") for r in arxiv_on.requests()] == [today.isoformat(), yesterday.isoformat()]
    assert FetchRun.objects.get().requests == 2
