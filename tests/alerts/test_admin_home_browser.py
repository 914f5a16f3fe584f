"""The admin home in real Chromium: the charts with their numbers, "fetch now" against the
local stand-in for Hugging Face, "send due digests now", and axe-core on the page in the
light and the dark colour scheme."""

from __future__ import annotations

import datetime as dt

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth.models import User
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from alerts.models import Digest, FetchRun
from subscribers.models import SubscriberEvent
from tests.alerts.conftest import saved
from tests.factories import SubscriberFactory, TopicFilterFactory
from tests.fakeweb import Reply

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "a-long-admin-password"


def arxiv_schedule() -> None:
    """Migration 0003's arXiv schedule (a transactional test starts from an emptied database)."""
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="0", day_of_week="1-5", timezone="America/New_York"
    )
    PeriodicTask.objects.update_or_create(
        name="Fetch arXiv listings",
        defaults={
            "task": "alerts.tasks.fetch_papers_task",
            "crontab": crontab,
            "kwargs": '{"source": "arxiv-rss"}',
        },
    )


@pytest.fixture
def history():
    """A late arXiv fetch, a fresh Hugging Face one, and a month of sign-ups and digests."""
    arxiv_schedule()
    now = timezone.now()
    FetchRun.objects.create(source="arxiv-rss", status="ok", started_at=now - dt.timedelta(days=6), fetched=7)
    FetchRun.objects.create(source="hf-daily", status="ok", started_at=now - dt.timedelta(hours=2), fetched=3)
    for n in range(40):
        event = SubscriberEvent.objects.create(kind="created")
        SubscriberEvent.objects.filter(pk=event.pk).update(created_at=now - dt.timedelta(days=n % 20))
        # Paused for a year: whatever the hour, "send due digests now" leaves them out.
        reader = SubscriberFactory(
            email=f"old{n}@example.org",
            send_hour=23,
            filters=0,
            paused_at=now,
            paused_until=now + dt.timedelta(days=365),
        )
        Digest.objects.create(
            subscriber=reader,
            period=(now - dt.timedelta(days=n % 25)).date(),
            status="sent" if n % 5 else "failed",
            window_end=now,
            finished_at=now - dt.timedelta(days=n % 25, minutes=1),
        )


def logged_in(browser, live_server, scheme: str = "light"):
    User.objects.create_superuser("root", "root@example.org", PASSWORD)
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, color_scheme=scheme)
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/?next=/admin/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.locator("#cockpit-activity").wait_for()
    return context, page


def test_admin_home_charts_fetch_now_and_send_due_now(
    browser, live_server, screenshots, history, arxiv_on, mailoutbox, week_papers
):
    arxiv_on.route("/api/daily_papers", Reply(body=saved("hf_daily_2026-03-04.json").read_bytes()))
    ada = SubscriberFactory(email="ada@example.org", send_hour=0, filters=0)
    TopicFilterFactory(subscriber=ada, name="Language", query="cat:cs.CL")
    context, page = logged_in(browser, live_server)
    try:
        assert page.locator("svg.chart").count() == 7
        sent_titles = page.locator("figure.chart-sent svg rect title").all_text_contents()
        assert len(sent_titles) == 30
        assert all(": " in title and title.endswith(" digests sent") for title in sent_titles)
        assert page.locator("#source-arxiv-rss.late").count() == 1
        assert "Late" in page.locator("#source-arxiv-rss").inner_text()
        page.click("summary:has-text('The numbers, day by day')")
        assert page.locator("table.cockpit-numbers tbody tr").count() == 30
        page.screenshot(path=str(screenshots / "admin-home.png"), full_page=True)

        page.click("button[aria-label='Fetch Hugging Face daily papers now']")
        page.wait_for_url(f"{live_server.url}/admin/")
        message = page.locator("ul.messagelist li.success")
        assert "Started alerts.tasks.fetch_papers_task for Hugging Face daily papers (hf-daily)" in (
            message.inner_text()
        )
        message.locator("a:has-text('Its run in the fetch log')").click()
        page.wait_for_url("**/admin/alerts/fetchrun/?*")
        rows = page.locator("#result_list tbody tr")
        assert rows.count() == 1
        assert "OK" in rows.first.inner_text()
        assert {r.path for r in arxiv_on.requests()} == {"/api/daily_papers"}  # today's and yesterday's

        page.goto(f"{live_server.url}/admin/")
        page.click("button:has-text('Send due digests now')")
        page.wait_for_url(f"{live_server.url}/admin/")
        message = page.locator("ul.messagelist li.success")
        assert "Started alerts.tasks.dispatch_due_digests" in message.inner_text()
        message.locator("a:has-text('The digests of this run')").click()
        page.wait_for_url("**/admin/alerts/digest/?*")
        assert page.locator("#result_list tbody tr").count() == 1
        assert "ada@example.org" in page.locator("#result_list").inner_text()
    finally:
        context.close()
    assert [m.to for m in mailoutbox] == [["ada@example.org"]]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_admin_home_has_no_axe_violations(browser, live_server, screenshots, history, scheme):
    context, page = logged_in(browser, live_server, scheme)
    try:
        page.click("summary:has-text('The numbers, day by day')")  # the table is checked too
        results = Axe().run(page)
        page.screenshot(path=str(screenshots / f"admin-home-{scheme}.png"), full_page=True)
    finally:
        context.close()
    assert results.violations_count == 0, results.generate_report()
