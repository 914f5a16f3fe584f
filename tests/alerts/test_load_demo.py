"""`load_demo` (make demo): the demo papers go through the real ingestion, offline."""

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from alerts.models import Paper


def load() -> str:
    out = StringIO()
    call_command("load_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_the_demo_loads_about_130_papers_with_authors_categories_and_upvotes():
    output = load()
    assert "arxiv-listing.xml: fetched 94, created 94, updated 0, skipped 0" in output
    assert "hf-daily-papers.json: fetched 59, created 40, updated 19" in output
    assert Paper.objects.count() == 134
    real = Paper.objects.get(arxiv_id="2403.20135")
    assert real.version == 3
    assert real.authors == [
        "Philip Freese",
        "Sebastian Götschel",
        "Thibaut Lunet",
        "Daniel Ruprecht",
        "Martin Schreiber",
    ]
    assert real.categories == ["math.NA", "cs.DC", "cs.NA"]
    assert real.doi == "10.1177/10943420251400406"
    assert Paper.objects.filter(upvotes__isnull=False).count() == 59
    assert all(paper.authors and paper.title and paper.abstract for paper in Paper.objects.all())
    # First seen now: the live preview (the last days' papers) and a first digest find them.
    assert Paper.objects.filter(first_seen_at__gte=timezone.now() - dt.timedelta(minutes=5)).count() == 134


@pytest.mark.django_db
def test_loading_the_demo_twice_stores_nothing_twice():
    load()
    output = load()
    assert "created 0" in output
    assert Paper.objects.count() == 134
