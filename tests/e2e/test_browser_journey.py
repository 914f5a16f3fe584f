"""A subscriber's whole journey in real Chromium, with a screenshot of every step.

Sign up with two filters -> open the confirmation link from the outbox -> edit a filter
on the manage page -> the digest is sent (the `send_digests` command an operator runs) ->
open it in the browser view -> follow its unsubscribe link -> press the button.
Screenshots land in data/test-artifacts/<test>/ for a reviewer (not committed).
"""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command

from alerts.models import Digest
from subscribers.models import Subscriber
from tests.outbox import outbox_messages

pytestmark = pytest.mark.django_db(transaction=True)

NO_HORIZONTAL_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


def newest_to(address: str):
    """The newest message in the local outbox for `address`: (subject, text part)."""
    found = [m for _, m in outbox_messages() if str(m["To"]).strip() == address]
    assert found, f"no message for {address} in the outbox"
    message = found[-1]
    return str(message["Subject"]).strip(), message.get_body(("plain",)).get_content()


def link(text: str, label: str) -> str:
    match = re.search(rf"{label}: (\S+)", text) or re.search(r"(https?://\S+/confirm/\S+)", text)
    assert match, f"no {label} link in:\n{text}"
    return match.group(1)


@pytest.mark.parametrize(("label", "width", "height"), [("desktop", 1280, 900), ("phone", 375, 740)])
def test_sign_up_confirm_manage_digest_unsubscribe(
    browser, live_server, settings, outbox_dir, screenshots, label, width, height
):
    settings.SITE_URL = live_server.url
    settings.EMAIL_BACKEND = "alerts.outbox.OutboxEmailBackend"
    call_command("load_demo", stdout=StringIO(), stderr=StringIO())
    email = f"journey-{label}@example.org"
    context = browser.new_context(viewport={"width": width, "height": height}, timezone_id="Europe/Berlin")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    shot = 0

    def snap(name: str) -> None:
        nonlocal shot
        shot += 1
        assert page.evaluate(NO_HORIZONTAL_OVERFLOW), f"{name} overflows at {width}px"
        page.screenshot(path=str(screenshots / f"{shot:02d}-{name}.png"), full_page=True)

    try:
        # 1. Sign up with two filters.
        page.goto(f"{live_server.url}/")
        page.fill("#id_email", email)
        page.fill("#id_filters-0-name", "LLM agents")
        page.fill("#id_filters-0-query", 'abs:agent AND (ti:LLM OR abs:"language model")')
        page.locator("#filters-0-preview .preview-papers li").first.wait_for(timeout=15_000)
        page.click("text=Add another filter")
        page.fill("#id_filters-1-name", "Serving")
        page.fill("#id_filters-1-query", "ti:serving OR ti:inference")
        page.locator("#filters-1-preview .preview-papers li").first.wait_for(timeout=15_000)
        snap("sign-up")
        page.click("button.primary[value=subscribe]")
        page.locator("h1:has-text('Check your inbox')").wait_for()
        snap("check-your-inbox")

        # 2. The confirmation link from the outbox.
        subject, text = newest_to(email)
        assert "confirm" in subject.lower()
        page.goto(link(text, "Confirm"))
        snap("confirm")
        page.click("button:has-text('Confirm my subscription')")
        page.locator("h1:has-text('You are subscribed')").wait_for()
        subscriber = Subscriber.objects.get(email=email)
        assert subscriber.status == Subscriber.Status.ACTIVE
        snap("confirmed")

        # 3. Edit a filter on the manage page.
        page.click("text=Change your preferences")
        page.locator("#id_filters-1-query").wait_for()
        page.fill("#id_filters-1-name", "LLM serving")
        page.fill("#id_filters-1-query", 'ti:serving OR abs:"LLM serving"')
        page.click("button.primary:has-text('Save preferences')")
        page.locator("text=saved").first.wait_for()
        snap("manage-saved")
        assert list(subscriber.filters.order_by("position").values_list("name", "query")) == [
            ("LLM agents", 'abs:agent AND (ti:LLM OR abs:"language model")'),
            ("LLM serving", 'ti:serving OR abs:"LLM serving"'),
        ]

        # 4. The operator sends the digests; 5. the browser view of the digest.
        call_command("send_digests", stdout=StringIO())
        digest = Digest.objects.get(subscriber=subscriber)
        assert digest.status == Digest.Status.SENT
        assert digest.paper_count > 0
        subject, text = newest_to(email)
        assert subject == digest.subject
        page.goto(link(text, "View in your browser"))
        page.locator("h1").first.wait_for()
        # The papers the email showed, then the matches past max_papers it only counted.
        more = len(digest.more_paper_ids)
        assert page.locator("a.title-link").count() == digest.paper_count + more
        snap("digest-in-browser")

        # The browser view only shows: no address, no manage or unsubscribe link.
        assert page.locator("a:has-text('Unsubscribe')").count() == 0
        assert email not in page.content()

        # 6. The email's unsubscribe link, and the button.
        page.goto(link(text, "Unsubscribe"))
        page.locator("button:has-text('Unsubscribe')").wait_for()
        snap("unsubscribe")
        page.click("button:has-text('Unsubscribe')")
        page.locator("button:has-text('Subscribe again')").wait_for()
        snap("unsubscribed")
    finally:
        context.close()

    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.UNSUBSCRIBED
    assert errors == []
