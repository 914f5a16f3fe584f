"""Fixtures of the subscriber tests: a clean cache (rate-limit counters live there) and
helpers to read links out of the emails a test caused."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.core.cache import cache

LINK = re.compile(r"https?://[^\s<>\"]+/(confirm|manage|unsubscribe)/([^/\s<>\"]+)/")


@pytest.fixture(autouse=True)
def clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = "https://alerts.example.org"
    return settings.SITE_URL


def links_in(message) -> dict[str, str]:
    """{purpose: path} of the subscriber links in an email's text part."""
    return {
        match.group(1): match.group(0).split("alerts.example.org", 1)[1]
        for match in LINK.finditer(message.body)
    }


def html_part(message) -> str:
    (html, mimetype), *_ = message.alternatives
    assert mimetype == "text/html"
    return html


@pytest.fixture
def outbox():
    mail.outbox.clear()
    return mail.outbox
