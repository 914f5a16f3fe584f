"""/metrics: the service's numbers for Prometheus, read from the database at scrape time,
and closed to strangers in production."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from prometheus_client.parser import text_string_to_metric_families

from alerts import views
from alerts.metrics import metrics_text
from alerts.models import DailyCount, DeliveryEvent, Digest, FetchRun
from subscribers.models import SubscriberEvent
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db
# A fixed instant: Wednesday 18 November 2026, 15:00 UTC.
NOW = dt.datetime(2026, 11, 18, 15, 0, tzinfo=dt.UTC)
TODAY = NOW.date()
TOKEN = "s3cret-scrape-token-0123456789"


def at(days_ago: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(hour, minute), tzinfo=dt.UTC)


def scrape(**kwargs) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} of one scrape as of NOW."""
    text = metrics_text(now=NOW, **kwargs).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def digest(
    n: int, status: str, *, created: dt.datetime, finished: dt.datetime | None, error: str = ""
) -> Digest:
    row = Digest.objects.create(
        subscriber=SubscriberFactory(email=f"reader{n}@example.org"),
        period=created.date(),
        frequency="daily",
        status=status,
        window_end=created,
        claimed_at=finished - dt.timedelta(seconds=5) if finished else None,
        finished_at=finished,
        sent_at=finished if status == "sent" else None,
        last_error=error,
    )
    Digest.objects.filter(pk=row.pk).update(created_at=created)
    return row


def fetch_run(source: str, fetched: int, finished: dt.datetime, status: str = "ok") -> None:
    FetchRun.objects.create(
        source=source,
        status=status,
        fetched=fetched,
        started_at=finished - dt.timedelta(minutes=2),
        finished_at=finished,
    )


def delivery(n: int, kind: str, when: dt.datetime) -> None:
    row = DeliveryEvent.objects.create(esp_name="test", event_id=f"e{n}", event_type=kind)
    DeliveryEvent.objects.filter(pk=row.pk).update(received_at=when)


def fill() -> None:
    """Forty days ago (past the charts' month): a sign-up, 100 arXiv papers, a sent digest.
    Two days ago: 2 sent, 3 failed (refused, ESP rejected, gave up), a bounce. Today: one
    sent 600 s after dispatch, a failed one of no known kind, a complaint, 30 Hugging Face
    papers, a pending digest dispatched 3 hours ago."""
    for kind, when in [("created", at(40)), ("created", at(2)), ("confirmed", at(2)), ("created", at(0, 9))]:
        row = SubscriberEvent.objects.create(kind=kind)
        SubscriberEvent.objects.filter(pk=row.pk).update(created_at=when)
    fetch_run("arxiv-rss", 100, at(40))
    fetch_run("arxiv-rss", 40, at(2))
    fetch_run("arxiv-rss", 0, at(1), status="failed")
    fetch_run("hf-daily", 30, at(0, 14))
    digest(1, "sent", created=at(40, 7), finished=at(40, 7, 1))
    digest(2, "sent", created=at(2, 7), finished=at(2, 7, 2))
    digest(3, "sent", created=at(2, 7), finished=at(2, 7, 3))
    digest(4, "failed", created=at(2, 7), finished=at(2, 7), error="recipient refused by the ESP (422: ...)")
    digest(5, "failed", created=at(2, 7), finished=at(2, 7), error="ESP answered 400: AnymailAPIError: ...")
    digest(
        6, "failed", created=at(2, 7), finished=at(2, 8), error="gave up after 8 attempts: ESP answered 503"
    )
    digest(7, "sent", created=at(0, 7), finished=at(0, 7, 10))
    digest(8, "failed", created=at(0, 7), finished=at(0, 7), error="ValueError: no address")
    digest(9, "pending", created=NOW - dt.timedelta(hours=3), finished=None)
    delivery(1, "bounced", at(2))
    delivery(2, "complained", at(0, 11))
    delivery(3, "delivered", at(0, 11))


def test_a_scrape_reports_counters_queue_latency_and_sources_from_the_rows(django_assert_max_num_queries):
    fill()

    # The first scrape counts the closed days; the number of queries never depends on the rows.
    with django_assert_max_num_queries(28):
        first = scrape()

    assert first[("paper_alerts_signups_total", ())] == 3
    assert first[("paper_alerts_confirmations_total", ())] == 1
    assert first[("paper_alerts_digests_sent_total", ())] == 4
    failed = {
        labels[0][1]: value
        for (name, labels), value in first.items()
        if name == "paper_alerts_digests_failed_total"
    }
    assert failed == {"gave_up": 1, "refused": 1, "rejected": 1, "not_receiving": 0, "other": 1}
    assert first[("paper_alerts_bounces_total", ())] == 1
    assert first[("paper_alerts_complaints_total", ())] == 1
    assert first[("paper_alerts_papers_fetched_total", (("source", "arxiv-rss"),))] == 140
    assert first[("paper_alerts_papers_fetched_total", (("source", "hf-daily"),))] == 30
    assert first[("paper_alerts_papers_fetched_total", (("source", "feed"),))] == 0
    assert first[("paper_alerts_digests_pending", ())] == 1
    assert first[("paper_alerts_digest_oldest_pending_age_seconds", ())] == 3 * 3600
    # Sent 60 s (forty days ago), 120 s and 180 s (two days ago) and 600 s (today) after
    # dispatch; each claimed 5 s before the ESP took it. The median is the second of four.
    latency = "paper_alerts_digest_send_latency_seconds"
    assert first[(latency, (("quantile", "0.5"), ("span", "dispatch")))] == 120
    assert first[(latency, (("quantile", "1.0"), ("span", "dispatch")))] == 600
    assert first[(latency, (("quantile", "0.99"), ("span", "claim")))] == 5
    assert first[("paper_alerts_digest_send_latency_window", ())] == 4
    assert (
        first[("paper_alerts_source_late", (("source", "arxiv-rss"),))] == 1
    )  # due Monday, not fetched since
    assert first[("paper_alerts_source_late", (("source", "hf-daily"),))] == 0
    assert first[("paper_alerts_source_last_success_timestamp_seconds", (("source", "hf-daily"),))] == (
        at(0, 13, 58).timestamp()
    )

    # Every closed day since the oldest row is kept now, not only the charts' month, and the
    # next scrape reads the kept numbers: the same counters, whatever the rows' history.
    assert DailyCount.objects.filter(day=TODAY - dt.timedelta(days=40), metric="signups").get().count == 1
    Digest.objects.filter(finished_at__lt=at(0, 0)).delete()
    with django_assert_max_num_queries(22):
        again = scrape()
    assert again[("paper_alerts_digests_sent_total", ())] == 4
    assert again[("paper_alerts_papers_fetched_total", (("source", "arxiv-rss"),))] == 140


def test_a_day_kept_before_the_counters_existed_gets_them_and_keeps_its_numbers():
    fill()
    # Kept by the admin home's charts before the per-source and per-reason numbers existed.
    day = TODAY - dt.timedelta(days=2)
    for metric, count in {
        "signups": 7,
        "confirmations": 1,
        "unsubscribes": 0,
        "sent": 2,
        "failed": 3,
    }.items():
        DailyCount.objects.create(day=day, metric=metric, count=count)

    numbers = scrape()

    assert numbers[("paper_alerts_signups_total", ())] == 1 + 7 + 1  # the kept 7 stand
    assert numbers[("paper_alerts_papers_fetched_total", (("source", "arxiv-rss"),))] == 140
    assert DailyCount.objects.filter(day=day, metric="failed_refused").get().count == 1


# Protection -------------------------------------------------------------------------------


def test_production_without_a_token_answers_404_and_says_why_in_the_log(client, settings, caplog):
    settings.DEBUG, settings.METRICS_TOKEN = False, ""
    views._metrics_off_logged = False
    with caplog.at_level(logging.WARNING, logger="alerts.views"):
        response = client.get("/metrics")
        client.get("/metrics")
    assert response.status_code == 404
    assert b"paper_alerts" not in response.content
    lines = [r.getMessage() for r in caplog.records if "METRICS_TOKEN" in r.getMessage()]
    assert lines == ["/metrics answers 404: set METRICS_TOKEN to serve Prometheus metrics"]  # once


def test_a_local_debug_site_serves_metrics_without_a_token(client, settings):
    settings.DEBUG, settings.METRICS_TOKEN = True, ""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    assert b"# TYPE paper_alerts_digests_sent_total counter" in response.content


def test_with_a_token_only_a_request_bearing_it_is_answered(client, settings, django_assert_max_num_queries):
    settings.DEBUG, settings.METRICS_TOKEN = True, TOKEN  # a token closes it even in DEBUG
    with django_assert_max_num_queries(0):
        refused = [
            client.get("/metrics"),
            client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong"),
            client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}"),
            client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x"),
        ]
    for response in refused:
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
        assert b"paper_alerts_" not in response.content
    answered = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert answered.status_code == 200
    assert b"paper_alerts_digests_pending 0.0" in answered.content
    assert answered["Cache-Control"].startswith("max-age=0")
