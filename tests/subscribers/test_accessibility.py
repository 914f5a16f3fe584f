"""Every public page in real Chromium, in the light and the dark colour scheme (the site
follows the system setting): axe-core finds no violation, each page has one <main> and one
<h1>, and the preview's live region reads out only the count as a filter is typed."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.test import Client

from alerts.digests.runner import digests_run
from alerts.models import Digest
from subscribers import tokens
from subscribers.views import server_error
from tests.factories import SubscriberFactory, TopicFilterFactory

pytestmark = pytest.mark.django_db(transaction=True)

BACKGROUND = {"light": "rgb(255, 255, 255)", "dark": "rgb(13, 17, 23)"}


@pytest.fixture
def people(week_papers, mailoutbox, site_url):
    """A pending subscriber, an active one with a sent digest, and the paths of their links."""
    pending = SubscriberFactory(email="pending@example.org", status="pending", confirmed_at=None)
    reader = SubscriberFactory(email="reader@example.org", filters=0)
    TopicFilterFactory(subscriber=reader, name="Language models", query="language model*")
    digests_run()
    digest = Digest.objects.get(subscriber=reader, status=Digest.Status.SENT)
    local = lambda url: url.removeprefix(site_url)  # noqa: E731
    return {
        "confirm": local(tokens.confirm_url(pending)),
        "manage": local(tokens.manage_url(reader)),
        "unsubscribe": local(tokens.unsubscribe_url(reader)),
        "digest": local(tokens.digest_view_url(digest, reader)),
    }


def check(page, axe: Axe, name: str, found: dict) -> None:
    page.wait_for_load_state("load")
    assert page.locator("main").count() == 1, name
    assert page.locator("h1").count() == 1, name
    result = axe.run(page)
    if result.violations_count:
        found[name] = result.generate_report()


def visit_every_page(page, base: str, links: dict, axe: Axe) -> dict:
    found: dict[str, str] = {}
    page.goto(f"{base}/")
    page.fill("#id_filters-0-query", "ti:agent")
    page.locator("#filters-0-preview .preview-papers li").first.wait_for(timeout=10_000)
    check(page, axe, "sign-up with a preview", found)
    # The help for those who don't speak the syntax: hints for a query matching nothing, a
    # category picked, papers pasted (one not found).
    page.fill("#id_filters-0-query", '"language models for reasoning"')
    page.locator("#filters-0-preview .preview-hints li").first.wait_for(timeout=10_000)
    page.select_option("#filters-0-category", "cs.CL")
    page.fill("#id_similar", "2401.99999")
    page.locator("#similar-preview .preview-missing li").first.wait_for(timeout=10_000)
    check(page, axe, "sign-up with hints, the category picker and pasted papers", found)
    page.fill("#id_similar", "")
    page.click("button.primary[value=subscribe]")
    check(page, axe, "sign-up with errors", found)
    page.fill("#id_email", "new@example.org")
    page.click("button.primary[value=subscribe]")
    page.locator("h1:has-text('Check your inbox')").wait_for()
    check(page, axe, "check your inbox", found)
    simple = {"resend": "/resend/", "not found": "/no-such-page/", "bad link": "/digest/1.AAA/"}
    for name, path in simple.items():
        page.goto(base + path)
        check(page, axe, name, found)
    page.goto(base + links["confirm"])
    check(page, axe, "confirm", found)
    page.click("button:has-text('Confirm my subscription')")
    check(page, axe, "confirmed", found)
    for name in ("manage", "digest"):
        page.goto(base + links[name])
        check(page, axe, name, found)
    page.goto(base + links["manage"])
    page.click("button:has-text('Pause until I resume')")
    page.locator(".status-line .badge.paused").wait_for()
    check(page, axe, "manage, paused (resume beside the badge)", found)
    page.click("button:has-text('Resume digests now')")
    page.locator(".status-line .badge.active").wait_for()
    page.goto(base + links["unsubscribe"])
    check(page, axe, "unsubscribe", found)
    page.click("button:has-text('Unsubscribe')")
    check(page, axe, "unsubscribed", found)
    return found


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_public_page_passes_axe(browser, live_server, people, scheme):
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/")
        assert page.evaluate("getComputedStyle(document.body).backgroundColor") == BACKGROUND[scheme]
        found = visit_every_page(page, live_server.url, people, Axe())
    finally:
        context.close()
    assert found == {}, "\n\n".join(f"{name}:\n{report}" for name, report in found.items())


def test_the_live_region_reads_out_the_count_not_the_lists(browser, live_server, week_papers):
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/")
        row = page.locator("[data-filter-row]").first
        page.type("#id_filters-0-query", "ti:agent", delay=20)
        preview = page.locator("#filters-0-preview")
        preview.locator(".preview-papers li").first.wait_for(timeout=10_000)
        live = row.locator("[aria-live], [role=status], [role=alert]")
        assert live.count() == 1  # the lists of days and titles are not in a live region
        summary = " ".join(preview.locator(".preview-summary").inner_text().split())
        assert "matched in the last 7 days" in summary
        page.wait_for_function(
            "([el, text]) => el.textContent === text", arg=[live.element_handle(), summary], timeout=5_000
        )
        page.fill("#id_filters-0-query", "ti:(unclosed")
        page.wait_for_function(
            "el => el.textContent.startsWith('This query has a problem')", arg=live.element_handle()
        )
    finally:
        context.close()


def test_an_error_of_ours_gets_the_sites_page_with_landmarks(db):
    response = server_error(Client().get("/").wsgi_request)
    page = response.content.decode()
    assert response.status_code == 500
    assert page.count("<main") == 1
    assert "<h1>Something went wrong on our side</h1>" in page
