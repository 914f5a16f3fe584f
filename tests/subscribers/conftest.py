"""Fixtures of the subscriber tests: a clean cache (rate-limit counters live there) and
helpers to read links out of the emails a test caused."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from django.core import mail
from django.core.cache import cache
from django.utils import timezone

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


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "subscribers"


@pytest.fixture
def week_papers(db):
    """Sixty real papers (titles and abstracts from Hugging Face's daily list), first seen
    over the last seven days: paper i arrived around noon (UTC) i % 7 days ago."""
    from tests.factories import PaperFactory

    data = json.loads((FIXTURES / "week_papers.json").read_text())["papers"]
    noon = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    papers = []
    for i, item in enumerate(data):
        seen = noon - dt.timedelta(days=i % 7, seconds=i)
        papers.append(
            PaperFactory(
                title=item["title"],
                abstract=item["abstract"],
                first_seen_at=seen,
                announced_on=seen.date(),
                categories=["cs.CL" if i % 2 else "cs.AI"],
                primary_category="cs.CL" if i % 2 else "cs.AI",
            )
        )
    return papers
