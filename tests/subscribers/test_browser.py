"""The sign-up page in real Chromium, on a desktop and at phone width: the browser's time
zone is filled in, the live preview lists papers as a filter is typed, "add another
filter" adds a row, and the form ends on the "check your inbox" page."""

import pytest

from subscribers.models import Subscriber

NO_HORIZONTAL_OVERFLOW = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("label", "width", "height"), [("desktop", 1280, 900), ("phone", 375, 740)])
def test_sign_up_with_live_preview(browser, live_server, screenshots, week_papers, label, width, height):
    context = browser.new_context(
        viewport={"width": width, "height": height}, timezone_id="America/New_York", locale="en-GB"
    )
    page = context.new_page()
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{live_server.url}/")
        assert page.input_value("#id_timezone") == "America/New_York"  # from the browser
        assert page.evaluate(NO_HORIZONTAL_OVERFLOW)

        page.fill("#id_email", f"ada-{label}@example.org")
        page.fill("#id_filters-0-name", "Agents")
        page.type("#id_filters-0-query", "ti:agent", delay=20)
        preview = page.locator("#filters-0-preview")
        preview.locator(".preview-papers li").first.wait_for(timeout=10_000)
        assert "matched in the last 7 days" in preview.inner_text()
        titles = preview.locator(".preview-papers li").all_inner_texts()
        assert any("Agent" in title for title in titles)
        assert preview.locator("mark").count() >= 1
        assert preview.locator(".preview-days li").count() == 7

        page.click("text=Add another filter")
        page.locator("#id_filters-1-query").wait_for()
        assert page.input_value("input[name=filters-TOTAL_FORMS]") == "2"
        page.fill("#id_filters-1-query", "ti:(unclosed")
        page.locator("#filters-1-preview .preview-error").wait_for(timeout=10_000)
        page.fill("#id_filters-1-query", "")

        page.screenshot(path=str(screenshots / f"sign-up-{label}.png"), full_page=True)
        assert page.evaluate(NO_HORIZONTAL_OVERFLOW)

        page.click("button.primary[value=subscribe]")
        page.locator("h1:has-text('Check your inbox')").wait_for()
        assert f"ada-{label}@example.org" in page.inner_text("main")
        assert page.evaluate(NO_HORIZONTAL_OVERFLOW)
        page.screenshot(path=str(screenshots / f"check-inbox-{label}.png"), full_page=True)
    finally:
        context.close()

    subscriber = Subscriber.objects.get(email=f"ada-{label}@example.org")
    assert subscriber.timezone == "America/New_York"
    assert list(subscriber.filters.values_list("name", "query")) == [("Agents", "ti:agent")]
    assert errors == []
