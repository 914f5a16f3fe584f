"""Help for those who don't speak the syntax, on the sign-up and manage pages: a category
picker with arXiv's names, clickable examples, and hints in the live preview when a filter
matches nothing."""

from __future__ import annotations

import re

import pytest

from subscribers.tokens import MANAGE, make_token
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db


def test_the_preview_of_a_query_matching_nothing_offers_queries_that_would_match(client, week_papers):
    text = client.get("/preview/", {"q": '"language models for reasoning"'}).text
    assert "<strong>0</strong> papers matched" in text
    assert "Drop &#x27;for&#x27;" in text
    assert "<code>&quot;language models&quot; reasoning</code>" in text
    assert 'data-use-query="&quot;language models&quot; reasoning"' in text

    text = client.get("/preview/", {"q": "cat:cs.CE"}).text
    assert "Did you mean cat:cs.CL?" in text

    text = client.get("/preview/", {"q": "agents robotics"}).text
    assert "Try OR" in text
    assert "<code>agents OR robotics</code>" in text


def test_hints_are_escaped(client, week_papers):
    text = client.get("/preview/", {"q": '"language models for <reasoning>"'}).text
    assert "<reasoning>" not in text
    assert "<code>&quot;language models&quot; &lt;reasoning&gt;</code>" in text


def test_a_query_that_matches_gets_no_hints(client, week_papers):
    assert "preview-hints" not in client.get("/preview/", {"q": "language"}).text


@pytest.mark.parametrize("page", ["signup", "manage"])
def test_the_forms_offer_a_labelled_category_picker_and_examples(client, page):
    url = "/" if page == "signup" else f"/manage/{make_token(SubscriberFactory(), MANAGE)}/"
    text = client.get(url).text
    assert '<label for="filters-0-category">Add a category</label>' in text
    picker = re.search(r'<select id="filters-0-category"[^>]*>', text).group(0)
    assert "name=" not in picker  # never posted with the form
    assert 'data-category-for="id_filters-0-query"' in picker
    assert '<option value="cs.CL">Computation and Language (cs.CL)</option>' in text
    assert '<optgroup label="Computer Science">' in text
    assert 'data-example="diffusion AND cat:cs.RO"' in text
