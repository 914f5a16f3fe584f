"""The sign-up page's help for those who don't speak the syntax, in real Chromium: the
category picker used from the keyboard, an example, a hint of the live preview taken, and a
field's error gone as soon as the field is edited (the server still checks on submit)."""

from __future__ import annotations

import pytest


@pytest.mark.django_db(transaction=True)
def test_picker_examples_hints_and_stale_errors(browser, live_server, screenshots, week_papers):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    query = page.locator("#id_filters-0-query")
    preview = page.locator("#filters-0-preview")
    try:
        page.goto(f"{live_server.url}/")

        # The picker, from the keyboard: choose a category, Tab to the button, Enter.
        query.fill("ti:agent")
        page.focus("#filters-0-category")
        page.select_option("#filters-0-category", "cs.CL")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == "Add to the query"
        page.keyboard.press("Enter")
        assert query.input_value() == "ti:agent AND cat:cs.CL"
        assert page.evaluate("document.activeElement.id") == "id_filters-0-query"
        page.wait_for_function(
            "el => /matched in the last 7 days/.test(el.textContent)",
            arg=preview.element_handle(),
            timeout=10_000,
        )

        # An example goes into the first empty filter (or the last one).
        query.fill("")
        page.click("button[data-example='diffusion AND cat:cs.RO']")
        assert query.input_value() == "diffusion AND cat:cs.RO"

        # A query matching nothing gets hints; taking one makes the preview list papers.
        query.fill('"language models for reasoning"')
        hint = preview.locator(".preview-hints button").first
        hint.wait_for(timeout=10_000)
        assert "Drop 'for'" in preview.locator(".preview-hints").inner_text()
        hint.click()
        assert query.input_value() == '"language models" reasoning'
        preview.locator(".preview-papers li").first.wait_for(timeout=10_000)
        page.screenshot(path=str(screenshots / "hint-taken.png"), full_page=True)

        # Submit without an address: the error shows; editing the field clears it at once.
        page.click("button.primary[value=subscribe]")
        page.locator("#id_email_error").wait_for()
        assert page.locator("#error-summary a[href='#id_email']").count() == 1
        page.fill("#id_email", "not an address")
        assert page.locator("#id_email_error").count() == 0
        assert page.locator("#error-summary a[href='#id_email']").count() == 0
        assert page.locator(".field.has-error #id_email").count() == 0
        # The server still checks.
        page.click("button.primary[value=subscribe]")
        page.locator("#id_email_error").wait_for()
    finally:
        context.close()
    # The form sent back with errors answers 400, which Chromium logs; no script failed.
    assert [e for e in errors if "status of 400" not in e] == []
