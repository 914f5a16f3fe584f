"""Bulk writes of the send path: what the database holds is what the objects said."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from alerts.core import bulk
from alerts.models import Digest, DigestItem, Paper
from tests.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db


def digests(count: int) -> list[Digest]:
    subscribers = [SubscriberFactory(filters=0) for _ in range(count)]
    now = timezone.now()
    return [
        Digest.objects.create(
            subscriber=s, period=now.date(), frequency="daily", window_end=now, claim_id=uuid.uuid4()
        )
        for s in subscribers
    ]


def test_update_writes_each_rows_own_values_including_nulls():
    rows = digests(3)
    sent_at = timezone.now().replace(microsecond=123456)
    for n, digest in enumerate(rows):
        digest.status = Digest.Status.SENT if n else Digest.Status.FAILED
        digest.subject = f"{n} new papers for 'Diffusion' \"models\" \\ \u00e9\t\u2603"
        digest.attempts = n + 1
        digest.sent_at = sent_at + dt.timedelta(seconds=n) if n else None
        digest.claim_id = None
        digest.last_error = "" if n else "550 mailbox unavailable"
    bulk.update(rows, ["status", "subject", "attempts", "sent_at", "claim_id", "last_error"])
    stored = {d.pk: d for d in Digest.objects.all()}
    for digest in rows:
        again = stored[digest.pk]
        assert (
            again.status,
            again.subject,
            again.attempts,
            again.sent_at,
            again.claim_id,
            again.last_error,
        ) == (
            digest.status,
            digest.subject,
            digest.attempts,
            digest.sent_at,
            None,
            digest.last_error,
        )
        assert again.window_end == digest.window_end  # fields not named are left alone


def test_insert_ignores_rows_that_break_a_unique_constraint():
    (digest,) = digests(1)
    first, second, third = PaperFactory(), PaperFactory(), PaperFactory()
    DigestItem.objects.create(digest=digest, paper=first, rank=9, filters=["old"])
    bulk.insert_ignoring_conflicts(
        DigestItem,
        [
            {"digest_id": digest.pk, "paper_id": first.pk, "rank": 1, "score": 2.5, "filters": ["new"]},
            {
                "digest_id": digest.pk,
                "paper_id": second.pk,
                "section": DigestItem.Section.TRENDING,
                "rank": 2,
                "score": 0.1 + 0.2,
                "filters": ['Diffusion "models"', "Ümlaut"],
                "terms": ["diffus", "generati*"],
            },
            {"digest_id": digest.pk, "paper_id": third.pk, "rank": 3},
        ],
    )
    items = {i.paper_id: i for i in DigestItem.objects.filter(digest=digest)}
    assert (items[first.pk].rank, items[first.pk].filters) == (9, ["old"])  # the existing row stays
    kept = items[second.pk]
    assert (kept.section, kept.rank, kept.score) == (DigestItem.Section.TRENDING, 2, 0.1 + 0.2)
    assert (kept.filters, kept.terms) == (['Diffusion "models"', "Ümlaut"], ["diffus", "generati*"])
    plain = items[third.pk]  # fields left out take their defaults
    assert (plain.section, plain.score, plain.filters, plain.terms) == (
        DigestItem.Section.MATCHED,
        0.0,
        [],
        [],
    )


def test_insert_refuses_a_row_that_breaks_a_unique_constraint_and_writes_none():
    (digest,) = digests(1)
    first, second = PaperFactory(), PaperFactory()
    DigestItem.objects.create(digest=digest, paper=first, rank=9)
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert(
            DigestItem,
            [
                {"digest_id": digest.pk, "paper_id": second.pk, "rank": 1},
                {"digest_id": digest.pk, "paper_id": first.pk, "rank": 2},
            ],
        )
    assert list(DigestItem.objects.filter(digest=digest).values_list("paper_id", "rank")) == [(first.pk, 9)]


def test_papers_are_written_through_the_bulk_writer_with_their_json_and_dates():
    papers = [PaperFactory(), PaperFactory()]
    papers[0].authors = ["Ada Lovelace", "Émile Borel"]
    papers[0].affiliations = {"Ada Lovelace": ["Cambridge"]}
    papers[1].authors, papers[1].published = [], dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    bulk.update(papers, ["authors", "affiliations", "published"])
    again = {p.pk: p for p in Paper.objects.filter(pk__in=[p.pk for p in papers])}
    assert (again[papers[0].pk].authors, again[papers[0].pk].affiliations) == (
        ["Ada Lovelace", "Émile Borel"],
        {"Ada Lovelace": ["Cambridge"]},
    )
    assert (again[papers[1].pk].authors, again[papers[1].pk].published) == ([], papers[1].published)
