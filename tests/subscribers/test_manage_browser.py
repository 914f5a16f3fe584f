"""The manage page in real Chromium: a sample requested there arrives in the outbox, the
page says when the next digest comes (on the subscriber's clock), a filter goes with its
own button, and a pause until a date shows its resume button beside the PAUSED badge."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from alerts.core.periods import WEEKLY, period_start
from alerts.models import Digest
from subscribers import tokens
from subscribers.models import Subscriber
from subscribers.selectors import next_digest_at
from tests.factories import SubscriberFactory, TopicFilterFactory

pytestmark = pytest.mark.django_db(transaction=True)

ADMIN = ("boss", "pw-for-tests-1")


@pytest.fixture
def reader(week_papers, settings, live_server, outbox_dir, django_user_model):
    settings.EMAIL_BACKEND = "alerts.outbox.OutboxEmailBackend"
    settings.SITE_URL = live_server.url
    django_user_model.objects.create_superuser(ADMIN[0], "boss@example.org", ADMIN[1])
    reader = SubscriberFactory(
        email="ada@example.org",
        timezone="Europe/Berlin",
        frequency="weekly",
        week_day=4,
        send_hour=9,
        filters=0,
    )
    TopicFilterFactory(subscriber=reader, name="Language models", query="language model*", position=0)
    TopicFilterFactory(subscriber=reader, name="Agents", query="ti:agent", position=1)
    # This week's digest went out already: the next one is next week's.
    this_week = period_start(timezone.now().astimezone(ZoneInfo("Europe/Berlin")).date(), WEEKLY, 4)
    Digest.objects.create(subscriber=reader, period=this_week, frequency=WEEKLY, window_end=timezone.now())
    return reader


def test_sample_next_digest_remove_a_filter_pause_until_a_date_and_resume(
    browser, live_server, reader, screenshots
):
    berlin = ZoneInfo("Europe/Berlin")
    context = browser.new_context(viewport={"width": 1280, "height": 900}, timezone_id="Europe/Berlin")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    manage = tokens.manage_url(reader)
    try:
        page.goto(manage)
        # When: the same moment the dispatch would pick, on the subscriber's clock.
        expected = next_digest_at(reader, now=timezone.now()).astimezone(berlin)
        next_line = page.locator(".next-digest").inner_text()
        assert f"{expected:%A} {expected.day} {expected:%B %Y}, 09:00" in next_line
        assert "(Europe/Berlin)" in next_line
        assert expected.weekday() == 4
        assert "weekly digests on Fridays" in page.locator(".status-line").inner_text()

        page.click("button:has-text('Send me a sample now')")
        page.locator(".message:has-text('A sample of your next digest is on its way')").wait_for()

        admin = context.new_page()
        admin.goto(f"{live_server.url}/admin/login/?next=/admin/outbox/")
        admin.fill("#id_username", ADMIN[0])
        admin.fill("#id_password", ADMIN[1])
        admin.click("input[type=submit]")
        row = admin.locator("tr:has-text('[Sample]')")
        row.first.wait_for()
        assert "ada@example.org" in row.first.inner_text()
        admin.close()
        page.goto(manage)  # the admin's login rotated the CSRF token this page's forms carry

        page.click("button:has-text('Remove this filter: Agents')")
        page.locator(".message:has-text('The filter “Agents” is removed.')").wait_for()
        assert page.locator("[data-filter-row]").count() == 1
        assert page.input_value("#id_filters-0-query") == "language model*"

        until = dt.datetime.now(berlin).date() + dt.timedelta(days=10)
        page.fill("#pause-until", until.isoformat())
        page.click("button:has-text('Pause until this date')")
        badge = page.locator(".status-line .badge.paused")
        badge.wait_for()
        resume = page.locator(".status-line button:has-text('Resume digests now')")
        # Beside the badge: on the same line, not a screen further down.
        badge_box, resume_box = badge.bounding_box(), resume.bounding_box()
        assert abs(resume_box["y"] - badge_box["y"]) < 40
        assert (
            f"No digests until {until:%A} {until.day} {until:%B %Y}"
            in page.locator(".status-line").inner_text()
        )
        page.screenshot(path=str(screenshots / "manage-paused.png"), full_page=True)
        resume.click()
        page.locator(".message:has-text('Digests are on again.')").wait_for()
        assert page.locator(".status-line .badge.active").count() == 1
    finally:
        context.close()

    reader.refresh_from_db()
    assert (reader.paused_at, reader.paused_until) == (None, None)
    assert list(reader.filters.values_list("name", flat=True)) == ["Language models"]
    assert reader.status == Subscriber.Status.ACTIVE
    assert errors == []
