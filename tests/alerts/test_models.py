"""The tables' PostgreSQL layout where it is chosen for the send path's cost."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from alerts.core import bulk
from alerts.models import Digest, DigestItem
from tests.conftest import require
from tests.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


def indexed_columns(table: str) -> set[tuple[str, ...]]:
    """The column lists of `table`'s indexes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT array_agg(a.attname ORDER BY k.n) FROM pg_index i"
            " CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum"
            " WHERE i.indrelid = %s::regclass GROUP BY i.indexrelid",
            [table],
        )
        return {tuple(columns) for (columns,) in cursor.fetchall()}


def test_digest_rows_and_their_items_carry_no_index_another_one_covers(uses_postgres):
    # Every index is one more entry written for each item row and for each change of a
    # digest row (claim, store, finalise): a chunk writes thousands of them.
    require(uses_postgres, "the indexes are PostgreSQL's")
    assert indexed_columns("alerts_digestitem") == {
        ("id",),
        ("digest_id", "paper_id"),  # also serves lookups by digest
        ("paper_id", "digest_id"),  # also serves lookups by paper
    }
    digest = indexed_columns("alerts_digest")
    assert ("subscriber_id", "period") in digest  # also serves lookups by subscriber
    assert ("subscriber_id",) not in digest
    assert ("claim_id",) not in digest  # a claim is read back by the chunk's ids


def test_the_extra_matches_are_compressed_with_lz4_when_the_server_has_it(uses_postgres):
    require(uses_postgres, "the compression is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
        )
        (has_lz4,) = cursor.fetchone()
        cursor.execute(
            "SELECT attcompression FROM pg_attribute"
            " WHERE attrelid = 'alerts_digest'::regclass AND attname = 'more_matches'"
        )
        (method,) = cursor.fetchone()
    assert method == ("l" if has_lz4 else "")


def foreign_keys(table: str) -> set[str]:
    """The tables `table`'s foreign-key constraints point at."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT confrelid::regclass::text FROM pg_constraint"
            " WHERE contype = 'f' AND conrelid = %s::regclass",
            [table],
        )
        return {name for (name,) in cursor.fetchall()}


def test_item_rows_are_not_checked_row_by_row_and_still_go_with_their_digest_and_paper(uses_postgres):
    # A foreign-key constraint checks each inserted item row with a locking lookup of its
    # digest and of its paper (every digest of a run shares the papers), a large share of
    # PostgreSQL's time a digest. Items are written only by the send path, for the digests
    # it has claimed and the papers of the period's index; deleting goes through the ORM,
    # which removes a digest's or a paper's items itself.
    require(uses_postgres, "the constraints are PostgreSQL's")

    assert foreign_keys("alerts_digestitem") == set()
    assert foreign_keys("alerts_digest") == {"subscribers_subscriber"}
    end = dt.datetime(2026, 11, 27, 6, tzinfo=dt.UTC)
    first, second = (
        Digest.objects.create(
            subscriber=SubscriberFactory(), period=end.date(), frequency="daily", window_end=end
        )
        for _ in range(2)
    )
    papers = [PaperFactory(), PaperFactory()]
    for digest in (first, second):
        for rank, paper in enumerate(papers, start=1):
            DigestItem.objects.create(digest=digest, paper=paper, rank=rank)
    papers[0].delete()
    assert set(DigestItem.objects.values_list("digest_id", "paper_id")) == {
        (first.pk, papers[1].pk),
        (second.pk, papers[1].pk),
    }
    Digest.objects.filter(pk=first.pk).delete()
    assert list(DigestItem.objects.values_list("digest_id", "paper_id")) == [(second.pk, papers[1].pk)]


def column_type(table: str, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
            [table, column],
        )
        return cursor.fetchone()[0]


def test_an_items_lists_are_json_text_written_and_read_as_lists(uses_postgres):
    # jsonb is parsed into its binary form on every write: the items' two small lists took
    # much of their insert that way. Nothing queries into them.
    require(uses_postgres, "the column types are PostgreSQL's")
    assert column_type("alerts_digestitem", "filters") == column_type("alerts_digestitem", "terms") == "text"
    end = dt.datetime(2026, 11, 27, 6, tzinfo=dt.UTC)
    digest = Digest.objects.create(
        subscriber=SubscriberFactory(), period=end.date(), frequency="daily", window_end=end
    )
    first, second, third = PaperFactory(), PaperFactory(), PaperFactory()
    DigestItem.objects.create(
        digest=digest, paper=first, rank=1, filters=['Diffusion, "robots"'], terms=["diffus"]
    )
    # The send path's bulk insert: the lists ride in one JSON document, kept as their text.
    bulk.insert_ignoring_conflicts(
        DigestItem,
        [
            {"digest_id": digest.pk, "paper_id": p.pk, "section": "matched", "rank": n, "score": 1.0}
            | {"filters": ["Agents", "Ünïcode"], "terms": ["agent", "tool"]}
            for n, p in ((2, second),)
        ],
    )
    DigestItem.objects.create(digest=digest, paper=third, rank=3)  # the defaults: empty lists
    rows = list(DigestItem.objects.order_by("rank").values_list("filters", "terms"))
    assert rows == [
        (['Diffusion, "robots"'], ["diffus"]),
        (["Agents", "Ünïcode"], ["agent", "tool"]),
        ([], []),
    ]
    assert DigestItem.objects.get(paper=second).filters == ["Agents", "Ünïcode"]
    DigestItem.objects.filter(digest=digest).update(filters=[], terms=[])  # as erasure does
    assert list(DigestItem.objects.values_list("filters", "terms")) == [([], [])] * 3
