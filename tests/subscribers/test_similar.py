"""A topic of kind "similar to": papers pasted as arXiv ids, URLs or titles on the sign-up
and manage pages, previewed live, stored as *more like this* seeds, matched in the digest."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from django.core.exceptions import ValidationError

from alerts.digests.runner import digests_run
from alerts.models import DigestItem
from subscribers import similar
from subscribers.models import Subscriber, Vote
from subscribers.similar import SIMILAR_NAME, seeds_check, seeds_lookup, seeds_parse, seeds_set
from subscribers.tokens import MANAGE, make_token
from tests.factories import PaperFactory, SubscriberFactory
from tests.subscribers.conftest import links_in
from tests.subscribers.helpers import preferences_data, signup_data

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


# Parsing ------------------------------------------------------------------------------


def test_ids_and_links_in_every_usual_form_are_read():
    text = """1706.03762
    https://arxiv.org/abs/2005.14165v4
    http://arxiv.org/pdf/2401.01234v2.pdf , arXiv:hep-th/9901001v1
    export.arxiv.org/abs/math.gt/0309136   0704.0001
    https://www.arxiv.org/html/2410.12345v1#S2
    ARXIV:2401.01234
    """
    assert [item.arxiv_id for item in seeds_parse(text)] == [
        "1706.03762",
        "2005.14165",
        "2401.01234",
        "hep-th/9901001",
        "math.GT/0309136",
        "0704.0001",
        "2410.12345",
    ]  # 2401.01234 once, whatever its form


def test_ids_that_cannot_exist_say_why():
    items = seeds_parse("2413.01234\n1501.1234\n0612.0001\n1412.01234\narxiv.org/abs/nonsense\nxyz")
    errors = [item.error for item in items]
    assert "there is no month 13" in errors[0]
    assert "5 digits after the dot" in errors[1]
    assert "start in April 2007" in errors[2]
    assert "4 digits after the dot" in errors[3]
    assert "is not an arXiv id" in errors[4]
    assert "neither an arXiv id nor a title" in errors[5]
    assert not any(item.arxiv_id for item in items)


def test_a_line_that_is_not_ids_is_a_title():
    (item,) = seeds_parse("  Attention Is All You Need  ")
    assert (item.title, item.arxiv_id, item.error) == ("Attention Is All You Need", "", "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("\n".join(f"2401.{n:05d}" for n in range(similar.MAX_SEEDS + 1)), "Paste at most 20 papers"),
        ("x" * (similar.MAX_CHARS + 1), "Paste at most 5000 characters"),
        ("2401.01234\x00", "control characters"),
    ],
)
def test_hostile_pastes_are_refused_with_a_message(text, message):
    with pytest.raises(ValidationError) as caught:
        seeds_parse(text)
    assert message in caught.value.messages[0]


# Lookup -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_lookup_finds_ids_and_titles_ignoring_case_accents_and_a_typo():
    paper = PaperFactory(arxiv_id="2401.01234", title="Schrödinger Bridges for Text Generation")
    old = PaperFactory(arxiv_id="hep-th/9901001", title="Strings on curved backgrounds")
    lookup = seeds_lookup(
        seeds_parse(
            "https://arxiv.org/abs/2401.01234v3\n"
            "hep-th/9901001\n"
            "schrodinger bridges for text generation\n"
            "Schrodinger Bridge for Text Generation.\n"  # a letter and a dot off
            "2401.99999\n"
            "A title nobody wrote"
        )
    )
    assert [paper.pk for paper in lookup.papers] == [paper.pk, old.pk, paper.pk, paper.pk]
    missing = [why for _, why in lookup.missing]
    assert missing[0].startswith("No paper 2401.99999 is stored here")
    assert missing[1].startswith("No stored paper has the title “A title nobody wrote”")


@pytest.mark.django_db
def test_seeds_check_lists_every_item_not_found():
    PaperFactory(arxiv_id="2401.01234")
    with pytest.raises(ValidationError) as caught:
        seeds_check("2401.01234\n2401.99999\n2413.00001")
    assert len(caught.value.messages) == 2


# Sign-up and manage -------------------------------------------------------------------


@pytest.mark.django_db
def test_sign_up_with_papers_alone_stores_them_as_more_like_this_seeds(client):
    liked = PaperFactory(arxiv_id="2401.01234")
    titled = PaperFactory(arxiv_id="2402.05678", title="Graph Neural Networks for Molecules")
    data = signup_data(
        filters=[("", "")], similar="arxiv.org/abs/2401.01234v2\ngraph neural networks for molecules"
    )
    response = client.post("/", data)
    assert response.status_code == 200, response.text
    subscriber = Subscriber.objects.get()
    assert not subscriber.filters.exists()
    seeds = Vote.objects.filter(subscriber=subscriber)
    assert set(seeds.values_list("paper_id", "action", "source", "digest")) == {
        (liked.pk, "more", "seed", None),
        (titled.pk, "more", "seed", None),
    }


@pytest.mark.django_db
def test_sign_up_with_an_unknown_id_says_so_and_stores_nothing(client):
    response = client.post("/", signup_data(filters=[("", "")], similar="2401.99999"))
    assert response.status_code == 400
    assert "No paper 2401.99999 is stored here" in response.text
    assert not Subscriber.objects.exists()
    assert not Vote.objects.exists()


@pytest.mark.django_db
def test_the_manage_page_shows_and_replaces_the_seeds(client):
    subscriber = SubscriberFactory(filters=0, include_trending=False)
    first, second = PaperFactory(arxiv_id="2401.01234"), PaperFactory(arxiv_id="2402.05678")
    seeds_set(subscriber=subscriber, papers=[first])
    url = f"/manage/{make_token(subscriber, MANAGE)}/"
    page = client.get(url).text
    assert ">\n2401.01234</textarea>" in page or ">2401.01234</textarea>" in page
    assert client.post(url, preferences_data([("", "")], similar="2402.05678")).status_code == 302
    assert list(Vote.objects.filter(source="seed").values_list("paper_id", flat=True)) == [second.pk]
    exported = json.loads(client.get(f"{url}data.json").content)
    assert [(v["arxiv_id"], v["action"], v["source"]) for v in exported["votes"]] == [
        ("2402.05678", "more", "seed")
    ]
    # Removing the last seed with no filter and no trending is refused, as an empty filter list is.
    refused = client.post(url, preferences_data([("", "")], similar=""))
    assert refused.status_code == 400
    assert "Add at least one filter" in refused.text


@pytest.mark.django_db
def test_a_less_like_this_on_a_pasted_paper_is_taken_back():
    subscriber = SubscriberFactory()
    paper = PaperFactory()
    Vote.objects.create(subscriber=subscriber, paper=paper, action=Vote.Action.LESS)
    assert seeds_set(subscriber=subscriber, papers=[paper])
    assert list(Vote.objects.values_list("action", "source")) == [("more", "seed")]
    assert not seeds_set(subscriber=subscriber, papers=[paper])  # idempotent


# The live preview ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_preview_shows_found_and_missing_and_escapes_titles(client, week_papers):
    week_papers[0].title = "<script>alert(1)</script> Agents that plan"
    week_papers[0].save()
    seed = week_papers[0]
    response = client.get("/preview/", {"similar": f"{seed.arxiv_id}\n2401.99999\n2413.00001"})
    assert response.status_code == 200
    text = response.text
    assert "<script>alert(1)" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Agents that plan" in text
    assert "No paper 2401.99999 is stored here" in text
    assert "there is no month 13" in text
    assert "1</strong> paper found, <strong>2</strong> not found" in text
    assert "similar paper" in text
    assert not Vote.objects.exists()


# The digest ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_digest_brings_papers_similar_to_the_seeds(mailoutbox):
    seed = PaperFactory(
        title="Graph neural networks for molecular property prediction",
        abstract="Message passing graph neural networks predict molecular properties from atoms and bonds.",
        first_seen_at=NOW - dt.timedelta(days=60),
    )
    near = [
        PaperFactory(
            title=f"Equivariant graph neural networks for molecular property prediction, part {n}",
            abstract="We predict molecular properties with message passing graph neural networks over atoms.",
            first_seen_at=NOW - dt.timedelta(hours=2 + n),
        )
        for n in range(3)
    ]
    far = [
        PaperFactory(
            title=f"Speech recognition in noisy rooms, part {n}",
            abstract="Acoustic models for speech recognition with noisy microphones and reverberation.",
            authors=["Grace Hopper"],
            first_seen_at=NOW - dt.timedelta(hours=2 + n),
        )
        for n in range(3)
    ]
    subscriber = SubscriberFactory(filters=0, include_trending=False)
    seeds_set(subscriber=subscriber, papers=[seed])
    digests_run(now=NOW)
    items = DigestItem.objects.filter(digest__subscriber=subscriber, section=DigestItem.Section.MATCHED)
    assert {item.paper_id for item in items} == {paper.pk for paper in near}
    assert all(item.filters == [SIMILAR_NAME] for item in items)
    assert not {paper.pk for paper in far} & {item.paper_id for item in items}
    (message,) = mailoutbox
    assert SIMILAR_NAME in message.body


@pytest.mark.django_db
def test_a_repeated_sign_up_applies_its_papers_only_once_confirmed(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    subscriber = SubscriberFactory(email="ada@example.org", status=Subscriber.Status.UNSUBSCRIBED)
    PaperFactory(arxiv_id="2401.01234")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/", signup_data(filters=[("", "")], similar="2401.01234"))
    assert response.status_code == 200
    assert not Vote.objects.exists()  # whoever signed up may not own the address
    (message,) = mailoutbox
    confirm = links_in(message)["confirm"]
    page = client.get(confirm).text
    assert "Similar to these papers</strong>: 2401.01234" in page
    pending = re.search(r'name="pending" value="([^"]+)"', page).group(1)
    client.post(confirm, {"pending": pending})
    assert list(Vote.objects.filter(subscriber=subscriber).values_list("source", flat=True)) == ["seed"]


@pytest.mark.django_db
def test_the_preview_button_without_javascript_shows_the_pasted_papers(client, week_papers):
    data = signup_data(filters=[("", "")], similar=f"{week_papers[2].arxiv_id}\n2401.99999", action="preview")
    text = client.post("/", data).text
    assert 'id="similar-preview"' in text
    assert "No paper 2401.99999 is stored here" in text
    assert week_papers[2].title in text
    assert not Subscriber.objects.exists()
