"""Feedback from a digest in real Chromium, with scripts on and off: open the digest from
the outbox, follow *More like this*, press the button, undo; save a paper and export the
saved papers as BibTeX. Opening a link alone (as a mail scanner does) records nothing."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alerts.digests.runner import digests_run
from subscribers.models import Vote
from tests.alerts.digests.conftest import make_papers, subscribe
from tests.outbox import outbox_messages

pytestmark = pytest.mark.django_db(transaction=True)


def digest_html(address: str) -> str:
    found = [m for _, m in outbox_messages() if str(m["To"]).strip() == address]
    assert found, f"no digest for {address} in the outbox"
    return found[-1].get_body(("html",)).get_content()


@pytest.fixture
def sent_digest(live_server, settings, outbox_dir):
    settings.SITE_URL = live_server.url
    settings.EMAIL_BACKEND = "alerts.outbox.OutboxEmailBackend"
    make_papers()
    subscribe("ada@example.org", ("Diffusion", "diffusion"), include_trending=True)
    digests_run()
    return digest_html("ada@example.org")


@pytest.mark.parametrize("scripts", [True, False], ids=["scripts-on", "scripts-off"])
def test_more_like_this_from_the_digest_records_on_the_button_and_undoes(
    browser, sent_digest, screenshots, scripts
):
    context = browser.new_context(java_script_enabled=scripts)
    page = context.new_page()
    try:
        page.set_content(sent_digest)
        more = page.locator('a[href*="/feedback/"]', has_text="More like this").first
        href = more.get_attribute("href")
        more.click()
        page.wait_for_url(href)
        page.locator("h1", has_text="More like this?").wait_for()
        page.screenshot(path=str(screenshots / "1-opened.png"), full_page=True)
        assert not Vote.objects.exists(), "opening the link recorded a vote"

        page.keyboard.press("Tab")  # the button is reachable from the keyboard
        button = page.get_by_role("button", name="More like this")
        button.focus()
        page.keyboard.press("Enter")
        page.locator("h1", has_text="Noted: more like this").wait_for()
        page.screenshot(path=str(screenshots / "2-recorded.png"), full_page=True)
        assert list(Vote.objects.values_list("action", flat=True)) == ["more"]

        page.get_by_role("button", name="Undo").click()
        page.locator("text=Taken back").wait_for()
        assert not Vote.objects.exists()
    finally:
        context.close()


def test_a_get_only_fetch_of_every_feedback_link_records_nothing(browser, sent_digest):
    context = browser.new_context()
    page = context.new_page()
    try:
        hrefs = re.findall(r'href="([^"]+/feedback/[^"]+)"', sent_digest)
        assert len(hrefs) >= 9
        for href in hrefs:
            assert page.goto(href).status == 200  # scripts run, as in a scanner's browser
        assert not Vote.objects.exists()
    finally:
        context.close()


def test_save_from_the_digest_then_the_saved_papers_page_and_bibtex(browser, sent_digest, screenshots):
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    try:
        page.set_content(sent_digest)
        title = page.locator(".paper .title").first.inner_text().strip()
        page.locator('a[href*="/feedback/"]', has_text="Save").first.click()
        page.get_by_role("button", name="Save").click()
        page.locator("h1", has_text="Noted: save").wait_for()
        page.get_by_role("link", name="Your saved papers").click()
        page.locator("h1", has_text="Saved papers").wait_for()
        assert title in page.locator(".saved-papers").inner_text()
        page.screenshot(path=str(screenshots / "saved.png"), full_page=True)
        with page.expect_download() as download:
            page.get_by_role("link", name="BibTeX").click()
        bibtex = Path(download.value.path()).read_text(encoding="utf-8")
        assert bibtex.startswith("@misc{")
        assert title.split()[0] in bibtex

        page.get_by_role("button", name=re.compile("^Remove")).click()
        page.locator("text=Removed from your saved papers").wait_for()
        assert not Vote.objects.exists()
    finally:
        context.close()
