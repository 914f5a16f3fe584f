"""Changing the address of a subscription in real Chromium, through the local outbox:
the manage page's form -> the link in the email to the new address -> its button -> the
old address gets a notice with no link -> old links no longer open the preferences."""

from __future__ import annotations

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.cache import cache

from subscribers import tokens
from subscribers.models import Subscriber
from tests.factories import SubscriberFactory
from tests.outbox import outbox_messages
from tests.servers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

NO_HORIZONTAL_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


def wait_for_mail(address: str, count: int = 1, timeout: float = 15.0) -> list:
    """The messages to `address` in the outbox, once there are `count` of them."""

    def found() -> list | None:
        messages = [m for _, m in outbox_messages() if str(m["To"]).strip() == address]
        return messages if len(messages) >= count else None

    return wait_until(found, timeout, what=f"{count} message(s) for {address}")


@pytest.mark.parametrize(("label", "width", "height"), [("desktop", 1280, 900), ("phone", 375, 740)])
def test_change_the_address_end_to_end(
    browser, live_server, settings, outbox_dir, screenshots, label, width, height
):
    settings.SITE_URL = live_server.url
    settings.EMAIL_BACKEND = "alerts.outbox.OutboxEmailBackend"
    settings.SIGNUP_ALLOWED_DOMAINS = ["uni.edu", "*.uni.edu"]
    cache.clear()  # rate-limit counters of earlier tests
    old, new = f"ada-{label}@uni.edu", f"ada.lovelace-{label}@cs.uni.edu"
    subscriber = SubscriberFactory(email=old)
    old_manage = tokens.manage_url(subscriber)
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    axe, violations = Axe(), {}

    def snap(name: str) -> None:
        assert page.evaluate(NO_HORIZONTAL_OVERFLOW), f"{name} overflows at {width}px"
        page.screenshot(path=str(screenshots / f"{name}.png"), full_page=True)
        result = axe.run(page)
        if result.violations_count:
            violations[name] = result.generate_report()

    try:
        page.goto(old_manage)
        # An address outside the allowed domains is refused next to the field.
        page.fill("#id_new_email", f"ada-{label}@gmail.example")
        page.click("button:has-text('Send a link to the new address')")
        page.locator("#id_new_email_error").wait_for()
        assert "Subscriptions here are for addresses at uni.edu or *.uni.edu" in page.inner_text(
            "#id_new_email_error"
        )
        snap("refused-domain")

        page.fill("#id_new_email", new)
        page.click("button:has-text('Send a link to the new address')")
        page.locator("h1:has-text('Check the new inbox')").wait_for()
        assert new in page.inner_text("main")
        snap("check-the-new-inbox")

        (message,) = wait_for_mail(new)
        text = message.get_body(("plain",)).get_content()
        link = re.search(r"(https?://\S+/email/\S+/)", text).group(1)
        page.goto(link)
        page.locator("h1:has-text('Use this address?')").wait_for()
        snap("use-this-address")
        assert Subscriber.objects.get(pk=subscriber.pk).email == old
        page.click("button:has-text('Use this address')")
        page.locator("h1:has-text('Your address is changed')").wait_for()
        snap("address-changed")

        page.click("text=Change your preferences")
        page.locator("h1:has-text('Your preferences')").wait_for()
        assert new in page.inner_text(".status-line")

        # The old address is told, with no link that could act on the subscription.
        (notice,) = wait_for_mail(old)
        notice_text = notice.get_body(("plain",)).get_content()
        assert "has moved to another address" in notice_text
        assert not re.search(r"/(manage|unsubscribe|email|confirm)/", notice.as_string())

        # The preferences link the old address got no longer works; the same link again neither.
        page.goto(old_manage)
        page.locator("h1:has-text('This link does not work')").wait_for()
        page.goto(link)
        page.locator("h1:has-text('This link does not work')").wait_for()
    finally:
        context.close()

    subscriber.refresh_from_db()
    assert (subscriber.email, subscriber.pending_email) == (new, "")
    assert errors == []
    assert violations == {}
