"""What the admin says, as an operator reads it: schedules in plain words without Celery's
housekeeping, links to the preview page, the mislabels fixed, and the offline demo."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from alerts.models import Digest, FetchRun
from alerts.schedule_words import crontab_words, interval_words
from alerts.tasks import fetch_papers_task
from subscribers.models import TopicFilter
from tests.factories import SubscriberFactory, TopicFilterFactory

SITE = "https://alerts.example.org"


@pytest.mark.parametrize(
    ("minute", "hour", "day_of_week", "zone", "words"),
    [
        ("0", "5", "*", "America/New_York", "every day at 05:00 America/New_York"),
        ("*/15", "*", "*", "UTC", "every 15 minutes"),
        ("*/2", "*", "*", "UTC", "every 2 minutes"),
        ("*", "*", "*", "UTC", "every minute"),
        ("30", "0", "1-5", "America/New_York", "Monday to Friday at 00:30 America/New_York"),
        ("15", "*/4", "*", "UTC", "every 4 hours from 00:15 UTC"),
        ("0", "*", "*", "UTC", "every hour at :00"),
        ("0", "7,19", "*", "Europe/Paris", "every day at 07:00, 19:00 Europe/Paris"),
        ("0", "9", "mon", "UTC", "every Monday at 09:00 UTC"),
        ("0", "9", "1,4", "UTC", "on Monday and Thursday at 09:00 UTC"),
        ("*/10", "*", "sat,sun", "UTC", "every 10 minutes, on Saturday and Sunday"),
        ("0,30", "*", "*", "UTC", "0,30 * * * * (cron, UTC)"),
    ],
)
def test_crontab_in_plain_words(minute, hour, day_of_week, zone, words):
    assert (
        crontab_words(
            minute=minute,
            hour=hour,
            day_of_week=day_of_week,
            day_of_month="*",
            month_of_year="*",
            timezone=zone,
        )
        == words
    )


def test_a_day_of_the_month_is_shown_as_cron_rather_than_misread():
    words = crontab_words(
        minute="0", hour="4", day_of_week="*", day_of_month="1", month_of_year="*", timezone="UTC"
    )
    assert words == "0 4 1 * * (cron, UTC)"


def test_interval_in_plain_words():
    assert interval_words(every=2, period="seconds") == "every 2 seconds"
    assert interval_words(every=1, period="hours") == "every hour"


@pytest.mark.django_db
def test_periodic_tasks_list_in_plain_words_without_celery_housekeeping(admin_client):
    nightly, _ = CrontabSchedule.objects.get_or_create(minute="0", hour="4", timezone="UTC")
    PeriodicTask.objects.create(name="celery.backend_cleanup", task="celery.backend_cleanup", crontab=nightly)
    every, _ = IntervalSchedule.objects.get_or_create(every=30, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="Every half minute", task="alerts.tasks.recover_digests", interval=every)

    page = admin_client.get(reverse("admin:django_celery_beat_periodictask_changelist"))

    assert page.status_code == 200
    names = [task.name for task in page.context["cl"].result_list]
    assert "celery.backend_cleanup" not in names
    assert "Fetch arXiv listings" in names
    html = page.content.decode()
    assert "Monday to Friday at 00:30 America/New_York" in html
    assert "every 15 minutes" in html  # the digest dispatch
    assert "every 30 seconds" in html
    assert "(m/h/dM/MY/d)" not in html


@pytest.mark.django_db
def test_preview_page_is_linked_from_subscriber_and_digest_pages(admin_client):
    ada = SubscriberFactory(email="ada+x@example.org")
    digest = Digest.objects.create(subscriber=ada, period=dt.date(2026, 11, 18), window_end=timezone.now())
    preview = reverse("admin:alerts_digest_preview") + "?email=ada%2Bx%40example.org"

    for page in (
        admin_client.get(reverse("admin:subscribers_subscriber_change", args=[ada.pk])),
        admin_client.get(reverse("admin:alerts_digest_change", args=[digest.pk])),
    ):
        assert page.status_code == 200
        assert f'<a href="{preview.replace("&", "&amp;")}">Preview the next digest' in page.content.decode()


@pytest.mark.django_db
def test_view_in_your_browser_in_a_preview_opens_the_preview_not_the_manage_page(admin_client, settings):
    settings.SITE_URL = SITE
    SubscriberFactory(email="ada@example.org")

    page = admin_client.get(reverse("admin:alerts_digest_preview"), {"email": "ada@example.org"})

    html = page.context["rendered"].html
    (view,) = re.findall(r'<a href="([^"]+)"[^>]*>View in your browser</a>', html)
    assert view == f"{SITE}/admin/alerts/digest/preview/?email=ada%40example.org"
    assert "/manage/" not in view
    assert f"View in your browser: {view}" in page.context["rendered"].text


@pytest.mark.django_db
def test_an_unnamed_filter_is_shown_once():
    unnamed = TopicFilterFactory(name="cat:cs.CL", query="cat:cs.CL")
    named = TopicFilterFactory(name="Language", query="cat:cs.CL")

    assert str(TopicFilter.objects.get(pk=unnamed.pk)) == "cat:cs.CL"
    assert str(named) == "Language: cat:cs.CL"


@pytest.mark.django_db
def test_a_resubscribed_subscriber_shows_no_unsubscribed_date(admin_client):
    when = timezone.make_aware(dt.datetime(2026, 3, 4, 10, 0))
    back = SubscriberFactory(email="back@example.org", status="active", unsubscribed_at=when)
    gone = SubscriberFactory(email="gone@example.org", status="unsubscribed", unsubscribed_at=when)

    def unsubscribed_field(subscriber) -> str:
        html = admin_client.get(reverse("admin:subscribers_subscriber_change", args=[subscriber.pk])).content
        block = re.search(
            r'field-unsubscribed_since.*?<div class="readonly">(.*?)</div>', html.decode(), re.S
        )
        return block.group(1).strip()

    assert unsubscribed_field(back) == "-"
    assert "March 4, 2026" in unsubscribed_field(gone)


@pytest.mark.django_db
def test_the_paused_column_says_since_when_and_shows_no_cross_for_not_paused(admin_client):
    SubscriberFactory(email="busy@example.org")
    SubscriberFactory(email="away@example.org", paused_at=timezone.make_aware(dt.datetime(2026, 11, 2, 9)))

    html = admin_client.get(reverse("admin:subscribers_subscriber_changelist")).content.decode()

    cells = dict(
        re.findall(r'>([a-z]+@example\.org)</a></th>.*?<td class="field-paused">(.*?)</td>', html, re.S)
    )
    assert cells == {"away@example.org": "since 2026-11-02", "busy@example.org": "-"}
    assert "icon-no.svg" not in html


@pytest.mark.django_db
def test_offline_demo_skips_fetches_and_says_so(admin_client, arxiv_on, settings):
    settings.OFFLINE_DEMO = True
    FetchRun.objects.create(source="hf-daily", status="ok", started_at=timezone.now() - dt.timedelta(days=5))

    result = fetch_papers_task.apply(kwargs={"source": "hf-daily"})
    nightly = fetch_papers_task.apply()

    assert result.result == {
        "skipped": "offline demo: fetches are skipped, nothing is requested from arXiv or Hugging Face"
    }
    assert nightly.successful()
    assert arxiv_on.requests() == []
    assert FetchRun.objects.count() == 1
    html = admin_client.get(reverse("admin:index")).content.decode()
    assert "<strong>Offline demo:</strong> the scheduled fetches" in html
    assert 'class="late"' not in html
    assert "Fetch now" not in html
