"""The digest email in real Chromium: readable at phone width, absolute links, dark mode."""

from __future__ import annotations

import re

import pytest

from alerts.digests.runner import digests_run
from tests.factories import PaperFactory

from .conftest import SITE, html_of, subscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def digest_html(papers, mailoutbox):
    PaperFactory(
        title="Attention " + "Supercalifragilisticexpialidocious" * 8 + " for long words in titles",
        abstract="Attention to https://example.org/a/very/long/url/" + "segment/" * 40 + " in an abstract.",
        authors=[f"Author Number{n} Withaverylongsurnamethatneverends{n}" for n in range(9)],
    )
    subscribe(
        "ada@example.org", ("Attention", "attention"), ("Diffusion", "diffusion"), include_trending=True
    )
    digests_run()
    (message,) = mailoutbox
    return html_of(message)


def test_digest_at_375px_has_no_horizontal_overflow_and_only_absolute_links(
    browser, digest_html, screenshots
):
    page = browser.new_page(viewport={"width": 375, "height": 800})
    page.set_content(digest_html)
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the phone"
    wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
             .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
             .map(e => e.tagName + '.' + e.className)"""
    )
    assert wide == []
    links = page.evaluate("[...document.querySelectorAll('a')].map(a => a.getAttribute('href'))")
    assert links
    for href in links:
        assert re.match(r"^https?://", href), href
    own = [h for h in links if "/manage/" in h or "/unsubscribe/" in h or "/digest/" in h]
    assert len(own) == 3
    assert all(h.startswith(SITE + "/") for h in own)
    assert page.evaluate("document.querySelectorAll('script, img, iframe, form').length") == 0
    page.screenshot(path=str(screenshots / "digest-375.png"), full_page=True)
    page.close()


def test_digest_follows_dark_mode(browser, digest_html, screenshots):
    page = browser.new_page(viewport={"width": 600, "height": 800}, color_scheme="dark")
    page.set_content(digest_html)
    background = page.evaluate("getComputedStyle(document.querySelector('.container')).backgroundColor")
    assert background == "rgb(27, 31, 36)"
    page.screenshot(path=str(screenshots / "digest-dark.png"), full_page=True)
    light = browser.new_page(viewport={"width": 600, "height": 800}, color_scheme="light")
    light.set_content(digest_html)
    assert (
        light.evaluate("getComputedStyle(document.querySelector('.container')).backgroundColor")
        == "rgb(255, 255, 255)"
    )
    page.close()
    light.close()
