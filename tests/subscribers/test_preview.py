"""The live preview: counts per day over the last week, the best titles (escaped, matched
words marked), the parser's message for an invalid query, and an index built once."""

import datetime as dt
import re
import time

import pytest
from django.utils import timezone
from django.utils.html import escape

from subscribers import filter_preview
from tests.factories import PaperFactory
from tests.subscribers.helpers import signup_data

pytestmark = pytest.mark.django_db
# "Multi-Agent" too (a hyphen splits words), and "Agentic" (English stemming makes it "agent").
AGENT_IN_TITLE = re.compile(r"\bagent(s|ic)?\b", re.IGNORECASE)


def test_counts_per_day_and_the_best_titles(client, week_papers):
    expected = [p for p in week_papers if AGENT_IN_TITLE.search(p.title)]
    assert len(expected) == 11  # the fixture's own count, independent of the matcher
    response = client.get("/preview/", {"q": "ti:agent"})
    assert response.status_code == 200
    html = response.text
    assert "<strong>11</strong> papers matched in the last 7 days" in html

    days = re.findall(
        r'<span class="day">([^<]+)</span> <meter[^>]*></meter> <span class="count">(\d+)</span>', html
    )
    today = timezone.now().date()
    per_day = {today - dt.timedelta(days=n): 0 for n in range(7)}
    for paper in expected:
        per_day[paper.announced_on] += 1
    assert [int(count) for _, count in days] == [per_day[day] for day in sorted(per_day)]
    assert days[-1][0] == f"{today:%a} {today.day} {today:%b}"

    titles = re.findall(r'<li><a href="(https://arxiv\.org/abs/[^"]+)"[^>]*>(.*?)</a>', html)
    assert len(titles) == 5
    shown = {re.sub(r"</?mark>", "", title) for _, title in titles}
    assert shown <= {escape(p.title) for p in expected}
    assert all("<mark>Agent" in title for _, title in titles)


def test_a_query_matching_nothing_says_zero(client, week_papers):
    html = client.get("/preview/", {"q": 'ti:"quantum chromodynamics"'}).text
    assert "<strong>0</strong> papers matched" in html
    assert "preview-papers" not in html


def test_an_invalid_query_shows_the_parsers_message_and_column(client, week_papers):
    html = client.get("/preview/", {"q": "ti:(graph"}).text
    assert escape("Unbalanced parenthesis: '(' is never closed (column 4)") in html
    assert "matched" not in html


def test_an_empty_query_gives_an_empty_fragment(client):
    assert client.get("/preview/", {"q": "   "}).text.strip() == ""


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("x" * 10_000, "A query can be at most 1000 characters long (this one has 10000)."),
        ("(" * 400 + "graph" + ")" * 400, "Too deeply nested: at most 20 levels of parentheses"),
    ],
)
def test_hostile_queries_get_a_message_quickly(client, week_papers, query, message):
    started = time.perf_counter()
    html = client.get("/preview/", {"q": query}).text
    assert time.perf_counter() - started < 2
    assert escape(message) in html


def test_paper_titles_are_escaped_and_only_web_links_are_links(client):
    PaperFactory(title="<script>alert(1)</script> Agents that act", abs_url="javascript:alert(1)")
    html = client.get("/preview/", {"q": "ti:agents"}).text
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark>Agents</mark> that act" in html
    assert "javascript:" not in html


def test_the_index_is_built_once_and_rebuilt_when_papers_change(week_papers):
    first = filter_preview.week_index()
    assert filter_preview.week_index() is first
    PaperFactory(title="A new paper about agents")
    second = filter_preview.week_index()
    assert second is not first
    assert len(second.titles) == len(first.titles) + 1
    week_papers[0].title = "Retitled"
    week_papers[0].save()
    assert filter_preview.week_index() is not second


def test_papers_older_than_the_window_are_left_out(client):
    PaperFactory(title="Old agents", first_seen_at=timezone.now() - dt.timedelta(days=8))
    PaperFactory(title="New agents")
    assert "<strong>1</strong> paper matched" in client.get("/preview/", {"q": "ti:agents"}).text


def test_the_preview_button_shows_previews_without_javascript(client, week_papers):
    data = signup_data(filters=[("Agents", "ti:agent"), ("Broken", "ti:(graph")], action="preview")
    response = client.post("/", data)
    assert response.status_code == 200
    assert "<strong>11</strong> papers matched" in response.text
    assert escape("Unbalanced parenthesis: '(' is never closed (column 4)") in response.text


def test_sign_up_refuses_an_invalid_query_with_the_message_and_column(client):
    response = client.post("/", signup_data(filters=[("Mine", "ti:graph AND")]))
    assert response.status_code == 400
    match = re.search(r'<p class="error" id="id_filters-0-query_error">(.*?)</p>', response.text)
    assert "(column " in match.group(1)
    assert match.group(1).startswith("Dangling operator")


def test_the_column_counts_what_the_person_typed(client):
    response = client.post("/", signup_data(filters=[("Mine", "   ti:(graph")]))
    assert escape("is never closed (column 7)") in response.text


def test_a_preview_over_a_week_of_papers_is_fast(client, week_papers):
    # A busy week: 3,000 papers (the fixture's texts, repeated).
    base = [(p.title, p.abstract) for p in week_papers]
    PaperFactory.create_batch(
        3000 - len(base), title=factory_cycle(t for t, _ in base), abstract=factory_cycle(a for _, a in base)
    )
    started = time.perf_counter()
    filter_preview.week_index()
    build = time.perf_counter() - started
    # The matcher builds its table of word forms on the first prefix search of an index.
    started = time.perf_counter()
    assert client.get("/preview/", {"q": "diffus*"}).status_code == 200
    first_prefix = time.perf_counter() - started
    timings = []
    for query in [
        "ti:agent",
        'abs:"large language models" AND cat:cs.CL',
        "model* OR au:lecun",
        "-ti:agent",
    ]:
        started = time.perf_counter()
        response = client.get("/preview/", {"q": query})
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200
    shown = [round(t * 1000) for t in timings]
    print(
        f"index of 3000 papers built in {build * 1000:.0f} ms, first prefix query "
        f"{first_prefix * 1000:.0f} ms; then previews took {shown} ms"
    )
    assert build < 10
    assert max(timings) < 0.5


def factory_cycle(values):
    import factory

    return factory.Iterator(list(values))
