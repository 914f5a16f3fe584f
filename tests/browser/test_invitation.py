"""Sign-up restricted to a lab's domain, in real Chromium: the form says who may sign up
and refuses another domain next to the field; an admin's invitation link lets that
address sign up; a used-up link says so. axe-core finds no violation on these pages."""

from __future__ import annotations

import datetime as dt

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import timezone

from subscribers import invitations, tokens
from subscribers.models import Subscriber

pytestmark = pytest.mark.django_db(transaction=True)


def test_sign_up_through_an_invitation(browser, live_server, settings, screenshots):
    settings.SITE_URL = live_server.url
    settings.SIGNUP_ALLOWED_DOMAINS = ["uni.edu"]
    cache.clear()
    admin = get_user_model().objects.create_superuser("admin", "admin@uni.edu", "pw")
    invitation = invitations.invitation_create(
        created_by=admin, note="Grace", expires_at=timezone.now() + dt.timedelta(days=1), max_uses=1
    )
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    axe, violations = Axe(), {}

    def check(name: str) -> None:
        page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
        result = axe.run(page)
        if result.violations_count:
            violations[name] = result.generate_report()

    try:
        page.goto(f"{live_server.url}/")
        assert "Subscriptions here are for addresses at uni.edu." in page.inner_text("#id_email_helptext")
        page.fill("#id_email", "grace@gmail.example")
        page.fill("#id_filters-0-query", "ti:agent")
        page.click("button.primary[value=subscribe]")
        page.locator("#id_email_error").wait_for()
        assert "invitation link" in page.inner_text("#id_email_error")
        check("refused-domain")

        page.goto(tokens.invitation_url(invitation))
        page.locator("text=You have an invitation").wait_for()
        page.fill("#id_email", "grace@gmail.example")
        page.fill("#id_filters-0-query", "ti:agent")
        page.click("button.primary[value=subscribe]")
        page.locator("h1:has-text('Check your inbox')").wait_for()
        check("invited-check-inbox")

        page.goto(tokens.invitation_url(invitation))
        page.locator("h1:has-text('This invitation does not work')").wait_for()
        assert "already been used as many times as it allows" in page.inner_text("main")
        check("invitation-used-up")
    finally:
        context.close()

    assert Subscriber.objects.get().email == "grace@gmail.example"
    assert violations == {}
