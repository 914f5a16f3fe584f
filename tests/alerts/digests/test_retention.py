"""Retention: old digest items, delivery events and fetch runs go in batches, every night,
after the days they belong to are counted for the charts and /metrics."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.digests.daily_counts import daily_counts, totals
from alerts.digests.retention import rows_prune
from alerts.models import DailyCount, DeliveryEvent, Digest, DigestItem, FetchRun
from alerts.tasks import prune_old_rows
from tests.factories import PaperFactory, SubscriberFactory

pytestmark = pytest.mark.django_db
# A fixed instant: Wednesday 18 November 2026, 03:20 UTC, when beat runs the task.
NOW = dt.datetime(2026, 11, 18, 3, 20, tzinfo=dt.UTC)
OLD = NOW - dt.timedelta(days=200)  # past the default 180 days
YOUNG = NOW - dt.timedelta(days=10)


def digest_with_items(n: int, created: dt.datetime, papers: list) -> Digest:
    digest = Digest.objects.create(
        subscriber=SubscriberFactory(email=f"reader{n}@example.org"),
        period=created.date(),
        frequency="daily",
        status="sent",
        window_end=created,
        sent_at=created,
        finished_at=created,
    )
    # Two matches past max_papers, stored compactly on the row.
    extra = {"total": 2, "items": [[papers[0].pk, 0.5, ["f"], ["w"]], [papers[1].pk, 0.4, ["f"], []]]}
    Digest.objects.filter(pk=digest.pk).update(created_at=created, more_matches=extra)
    for rank, paper in enumerate(papers):
        DigestItem.objects.create(digest=digest, paper=paper, rank=rank)
    return digest


def delivery(n: int, kind: str, when: dt.datetime) -> None:
    row = DeliveryEvent.objects.create(esp_name="test", event_id=f"e{n}", event_type=kind)
    DeliveryEvent.objects.filter(pk=row.pk).update(received_at=when)


def fill() -> dict[str, object]:
    """200 days ago: two digests of 3 items, 5 delivery events (a bounce), 2 fetch runs of
    40 papers. 10 days ago: a digest of 3 items, a complaint, a fetch run of 7."""
    papers = [PaperFactory() for _ in range(3)]
    old = [digest_with_items(1, OLD, papers), digest_with_items(2, OLD + dt.timedelta(hours=1), papers)]
    young = digest_with_items(3, YOUNG, papers)
    for n, kind in enumerate(["bounced", "delivered", "delivered", "opened", "delivered"]):
        delivery(n, kind, OLD + dt.timedelta(minutes=n))
    delivery(10, "complained", YOUNG)
    for when, fetched in [(OLD, 40), (OLD + dt.timedelta(hours=4), 40), (YOUNG, 7)]:
        FetchRun.objects.create(
            source="arxiv-rss",
            status="ok",
            fetched=fetched,
            started_at=when,
            finished_at=when + dt.timedelta(minutes=1),
        )
    return {"old": old, "young": young}


def test_the_nightly_task_counts_the_old_days_then_deletes_their_rows_in_batches(settings):
    settings.RETENTION_BATCH = 2
    rows = fill()

    with CaptureQueriesContext(connection) as queries:
        result = prune_old_rows(now=NOW.isoformat())

    assert result == {
        "cutoff": (NOW - dt.timedelta(days=180)).isoformat(),
        "days_counted": 200,  # every closed day since the oldest row, counted before deleting
        "digest_items": 6,
        "extra_matches": 2,
        "delivery_events": 5,
        "fetch_runs": 2,
    }
    assert set(DigestItem.objects.values_list("digest", flat=True)) == {rows["young"].pk}
    assert list(DeliveryEvent.objects.values_list("event_type", flat=True)) == ["complained"]
    assert list(FetchRun.objects.values_list("fetched", flat=True)) == [7]
    # The digests themselves stay (one per subscriber and period, the double-send guard).
    assert Digest.objects.count() == 3
    # The old digests' extra matches went with their items; the young one's stay.
    assert {pk: bool(extra) for pk, extra in Digest.objects.values_list("pk", "more_matches")} == {
        rows["old"][0].pk: False,
        rows["old"][1].pk: False,
        rows["young"].pk: True,
    }
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert sum("alerts_digestitem" in sql for sql in deletes) == 3  # 2 + 2 + 2 items
    assert sum("alerts_deliveryevent" in sql for sql in deletes) == 3  # 2 + 2 + 1 events
    assert sum("alerts_fetchrun" in sql for sql in deletes) == 1

    # The numbers of the pruned rows are kept: the old day's counts, and the all-time totals.
    old_day = OLD.date()
    kept = dict(DailyCount.objects.filter(day=old_day).values_list("metric", "count"))
    assert (kept["sent"], kept["bounced"], kept["fetched_arxiv_rss"]) == (2, 1, 80)
    numbers = totals(today=NOW.date())
    assert (numbers["sent"], numbers["bounced"], numbers["complaints"], numbers["fetched_arxiv_rss"]) == (
        3,
        1,
        1,
        87,
    )
    month = daily_counts(days=30, today=NOW.date())
    assert sum(month.values["complaints"]) == 1

    # The next night finds nothing more to delete and nothing more to count.
    again = rows_prune(now=NOW + dt.timedelta(days=1))
    assert (again.days_counted, again.digest_items, again.extra_matches, again.delivery_events) == (
        1,
        0,
        0,
        0,
    )
    assert again.fetch_runs == 0


def test_rows_younger_than_the_setting_stay(settings):
    settings.RETENTION_DAYS = 365
    fill()

    pruned = rows_prune(now=NOW)

    assert (pruned.digest_items, pruned.extra_matches, pruned.delivery_events, pruned.fetch_runs) == (
        0,
        0,
        0,
        0,
    )
    assert DigestItem.objects.count() == 9


def test_a_retention_shorter_than_a_digest_reaches_back_is_refused(settings):
    settings.DIGEST_MAX_LOOKBACK_DAYS = 14
    fill()

    with pytest.raises(ImproperlyConfigured, match="RETENTION_DAYS is 20: keep at least 21 days"):
        rows_prune(now=NOW, days=20)

    assert DigestItem.objects.count() == 9
