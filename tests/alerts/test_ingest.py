"""The upsert at the size of a busy night: a few thousand records in a handful of queries."""

import datetime as dt

import pytest

from alerts.models import Paper
from alerts.papers.ingest import papers_ingest
from alerts.papers.sources.records import PaperRecord

pytestmark = pytest.mark.django_db

NIGHT = 3000


def listing(count: int, *, version: int = 1, category: str = "cs.LG") -> list[PaperRecord]:
    return [
        PaperRecord(
            arxiv_id=f"2603.{n:05d}",
            version=version,
            title=f"Paper {n}, version {version}",
            abstract="We study sparse attention for long-context language models.",
            authors=["Ada Lovelace", "Alan Turing"],
            categories=[category],
            primary_category=category,
            announced_on=dt.date(2026, 3, 4),
            announce_type="new" if version == 1 else "replace",
            abs_url=f"https://arxiv.org/abs/2603.{n:05d}",
            pdf_url=f"https://arxiv.org/pdf/2603.{n:05d}",
        )
        for n in range(1, count + 1)
    ]


def test_a_night_of_papers_takes_a_few_queries(django_assert_max_num_queries, uses_postgres):
    # Batches of 500 rows; SQLite (local runs only) caps a statement at 999 parameters,
    # about 40 rows of this table, which is still far from a query per paper.
    writes = 15 if uses_postgres else NIGHT // 20
    with django_assert_max_num_queries(writes):
        counts = papers_ingest(records=listing(NIGHT), source="arxiv-rss")
    assert (counts.fetched, counts.created, counts.updated, counts.skipped) == (NIGHT, NIGHT, 0, 0)

    with django_assert_max_num_queries(8):
        counts = papers_ingest(records=listing(NIGHT), source="arxiv-rss")
    assert (counts.created, counts.updated, counts.skipped) == (0, 0, NIGHT)

    with django_assert_max_num_queries(writes):
        counts = papers_ingest(records=listing(NIGHT, version=2, category="cs.AI"), source="arxiv-rss")
    assert (counts.created, counts.updated, counts.skipped) == (0, NIGHT, 0)

    assert Paper.objects.count() == NIGHT
    row = Paper.objects.get(arxiv_id="2603.00042")
    assert (row.version, row.title, row.categories) == (2, "Paper 42, version 2", ["cs.LG", "cs.AI"])
    assert (row.announced_on, row.announce_type) == (dt.date(2026, 3, 4), "new")


def test_the_same_paper_twice_in_one_fetch_is_one_row():
    v1, v2 = listing(1)[0], listing(1, version=2)[0]

    counts = papers_ingest(records=[v2, v1], source="arxiv-api")

    assert (counts.fetched, counts.created) == (1, 1)
    assert Paper.objects.get().version == 2
    assert Paper.objects.get().title == "Paper 1, version 2"
