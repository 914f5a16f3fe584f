"""Nothing silently cut: past max_papers the email says how many more matched and links to
its browser view, which lists them all; slots are shared fairly between filters, and a
paper two filters match says so and ranks higher."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone

from alerts.digests import composing
from alerts.digests.composing import FilterSpec
from alerts.digests.rendering import Links, render_digest, render_digest_direct
from alerts.digests.runner import digests_run
from alerts.models import Digest, DigestItem
from subscribers import services
from subscribers.models import SubscriberEvent, Vote
from tests.factories import PaperFactory

from .conftest import SITE, html_of, subscribe

pytestmark = pytest.mark.django_db


def broad_and_narrow():
    """Ten papers for a broad filter (strong title matches), three for a narrow one, one both."""
    for n in range(10):
        PaperFactory(title=f"Language models, part {n}", abstract="Language models language models.")
    for n in range(3):
        PaperFactory(title=f"Robot arms {n}", abstract="Grasping with robot arms.")
    PaperFactory(title="Language models for robot arms", abstract="Language models drive robot arms.")


def test_the_email_counts_the_rest_and_the_browser_view_lists_them_all(client, mailoutbox):
    broad_and_narrow()
    subscriber = subscribe("ada@example.org", ("LLMs", "language models"), ("Robots", "robot"), max_papers=5)
    digests_run()
    (message,) = mailoutbox
    sent = DigestItem.objects.filter(digest__subscriber=subscriber, section=DigestItem.Section.MATCHED)
    assert sent.count() == 5
    assert "9 more matches not in this email" in message.body
    assert "9 more matches not in this email" in html_of(message)
    view = re.search(r"View in your browser: (\S+)", message.body).group(1)
    page = client.get(view.removeprefix(SITE))
    assert page.status_code == 200
    text = re.sub(r"<[^>]+>", "", page.text)  # matched words are marked up
    assert "9 more matches, not in the email" in text
    for title in [f"Language models, part {n}" for n in range(10)] + [f"Robot arms {n}" for n in range(3)]:
        assert title in text


FEEDBACK = re.compile(r"https://alerts\.example\.org(/feedback/[^/\s\"<>]+/(\d+)/more/)")


def test_the_extra_matches_are_one_value_on_the_digest_row_and_can_be_voted_on(client, mailoutbox):
    """The matches past max_papers are kept on the digest row (not one item row each: a
    broad filter's hundred extra rows a digest tripled the database's work); the browser
    view lists them, and their feedback links are accepted like the email's."""
    broad_and_narrow()
    subscriber = subscribe("ada@example.org", ("LLMs", "language models"), ("Robots", "robot"), max_papers=5)
    digests_run()
    digest = Digest.objects.get(subscriber=subscriber)
    assert DigestItem.objects.filter(digest=digest).count() == 5  # the email's papers only
    assert digest.more_matches["total"] == 9
    extra = digest.more_paper_ids
    assert len(extra) == 9
    assert not set(extra) & set(DigestItem.objects.filter(digest=digest).values_list("paper_id", flat=True))
    assert all(names for _, _, names, _ in Digest.more_entries_of(digest.more_matches))
    # Each distinct list of names or terms is stored once; an item is four numbers.
    stored = digest.more_matches
    assert len(stored["names"]) == len({tuple(names) for names in stored["names"]}) <= 3
    assert all(type(i) is int and type(n) is int and type(t) is int for i, _, n, t in stored["items"])
    assert max(t for *_, t in stored["items"]) == len(stored["terms"]) - 1

    view = re.search(r"View in your browser: (\S+)", mailoutbox[0].body).group(1)
    page = client.get(view.removeprefix(SITE)).text
    links = {int(paper_id): path for path, paper_id in FEEDBACK.findall(page)}
    assert set(extra) <= set(links)
    assert client.post(links[extra[-1]], {"do": "record"}).status_code == 302
    assert list(Vote.objects.values_list("paper_id", "action")) == [(extra[-1], "more")]
    # A paper of neither the email nor the extra matches is refused.
    other = PaperFactory(title="Unrelated")
    refused = client.post(links[extra[-1]].replace(f"/{extra[-1]}/", f"/{other.pk}/"), {"do": "record"})
    assert "not one of that digest" in refused.text
    assert Vote.objects.count() == 1

    # Erasure keeps the papers and scores, not the filter names or the matched terms.
    services.subscriber_erase(subscriber=subscriber, actor=SubscriberEvent.Actor.ADMIN)
    digest.refresh_from_db()
    assert digest.more_paper_ids == extra
    assert all(
        names == [] and terms == () for _, _, names, terms in Digest.more_entries_of(digest.more_matches)
    )
    assert digest.more_matches.keys() == {"total", "items"}


def test_filters_share_the_slots_and_a_paper_both_match_says_so_first(mailoutbox):
    broad_and_narrow()
    subscriber = subscribe("ada@example.org", ("LLMs", "language models"), ("Robots", "robot"), max_papers=5)
    digests_run()
    sent = list(
        DigestItem.objects.filter(digest__subscriber=subscriber, section=DigestItem.Section.MATCHED)
        .select_related("paper")
        .order_by("rank")
    )
    assert sent[0].paper.title == "Language models for robot arms"
    assert sent[0].filters == ["LLMs", "Robots"]
    assert "Matched: LLMs, Robots" in mailoutbox[0].body
    # Without sharing, the broad filter's ten strong matches would take every slot.
    assert sum(item.filters == ["Robots"] for item in sent) >= 1


def test_the_compiled_digest_with_more_matches_is_the_templates_rendered_directly():
    broad_and_narrow()
    now = timezone.now()
    pidx = composing.build_period_index(now)
    composition = composing.compose(
        pidx=pidx,
        filters=[FilterSpec("LLMs", "language models")],
        window_start=now - composing.dt.timedelta(days=1),
        excluded=0,
        max_papers=5,
        include_trending=False,
    )
    assert composition.more_count == 6
    args = dict(
        composition=composition,
        email="ada@example.org",
        filter_names=["LLMs"],
        period=now.date(),
        weekly=False,
        links=Links(
            manage_url=f"{SITE}/manage/a.b/",
            unsubscribe_url=f"{SITE}/unsubscribe/a.b/",
            view_url=f"{SITE}/digest/c.d/",
            feedback_url=f"{SITE}/feedback/e.f",
        ),
    )
    fast, direct = render_digest(pidx=pidx, **args), render_digest_direct(**args)
    assert fast.text == direct.text
    assert fast.html == direct.html
    assert "6 more matches not in this email" in fast.text


def test_extra_matches_read_the_same_from_every_stored_form():
    """Digests stored before the shared lists keep the names and terms in each item; the
    browser view, feedback and re-sends read both forms, and erased digests' empty lists."""
    inline = {
        "total": 3,
        "items": [[11, 1.5, ["LLMs"], ["model"]], [12, 1.0, ["LLMs", "Robots"], ["arm", "model"]]],
    }
    shared = {
        "total": 3,
        "names": [["LLMs"], ["LLMs", "Robots"]],
        "terms": [["model"], ["arm", "model"]],
        "items": [[11, 1.5, 0, 0], [12, 1.0, 1, 1]],
    }
    expected = [(11, 1.5, ["LLMs"], ("model",)), (12, 1.0, ["LLMs", "Robots"], ("arm", "model"))]
    assert list(Digest.more_entries_of(inline)) == expected
    assert list(Digest.more_entries_of(shared)) == expected
    digest = Digest(more_matches=shared)
    digest.more_matches_erase()
    assert digest.more_matches == {"total": 3, "items": [[11, 1.5, [], []], [12, 1.0, [], []]]}
    assert list(Digest.more_entries_of(digest.more_matches)) == [(11, 1.5, [], ()), (12, 1.0, [], ())]
    assert list(Digest.more_entries_of({})) == list(Digest.more_entries_of(None)) == []
