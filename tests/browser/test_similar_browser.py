"""Pasting papers into "Similar to these papers" on the sign-up page, in real Chromium: the
live preview says which were found and which not (and why), and the sign-up stores the
found ones as the subscriber's seeds."""

from __future__ import annotations

import pytest

from subscribers.models import Subscriber, Vote


@pytest.mark.django_db(transaction=True)
def test_pasted_ids_are_previewed_then_subscribed(browser, live_server, screenshots, week_papers):
    liked = week_papers[3]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(f"{live_server.url}/")
        page.fill("#id_similar", f"https://arxiv.org/abs/{liked.arxiv_id}v2\n2401.99999")
        preview = page.locator("#similar-preview")
        preview.locator(".preview-found li").first.wait_for(timeout=10_000)
        assert liked.title in preview.locator(".preview-found").inner_text()
        assert "No paper 2401.99999 is stored here" in preview.locator(".preview-missing").inner_text()
        status = page.locator('[data-preview-status-for="id_similar"]')
        assert "1 paper found, 1 not found" in status.inner_text()
        page.screenshot(path=str(screenshots / "similar-preview.png"), full_page=True)

        # The unknown id would be refused on submit: keep the one that was found.
        page.fill("#id_similar", liked.arxiv_id)
        page.locator("#similar-preview .preview-missing").wait_for(state="detached", timeout=10_000)
        page.fill("#id_email", "ada@example.org")
        page.click("button.primary[value=subscribe]")
        page.locator("h1:has-text('Check your inbox')").wait_for()
    finally:
        context.close()

    subscriber = Subscriber.objects.get(email="ada@example.org")
    assert list(Vote.objects.filter(subscriber=subscriber).values_list("paper_id", "source")) == [
        (liked.pk, "seed")
    ]
    assert errors == []
