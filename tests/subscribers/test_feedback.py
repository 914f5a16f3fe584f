"""Feedback from the email without a login: more / less like this and save under every
paper, saved papers, the reader's data as JSON; and hostile links that store nothing."""

from __future__ import annotations

import json
import re

import pytest

from alerts.digests.runner import digests_run
from alerts.models import Digest, DigestItem, Paper
from subscribers import services
from subscribers.models import ReaderModel, Subscriber, SubscriberEvent, Vote
from subscribers.tokens import MANAGE, feed_url, make_token
from tests.alerts.digests.conftest import make_papers, subscribe
from tests.subscribers.conftest import html_part

pytestmark = pytest.mark.django_db

SITE = "https://alerts.example.org"
FEEDBACK = re.compile(r"https://alerts\.example\.org(/feedback/([^/\s\"<>]+)/(\d+)/(more|less|save)/)")


@pytest.fixture
def sent(mailoutbox):
    """A sent digest of ada's: its message, and its feedback links as (path, token, paper id, action)."""
    make_papers()
    ada = subscribe("ada@example.org", ("Diffusion", "diffusion"), include_trending=True)
    subscribe("bob@example.org", ("Weather", "weather"))
    digests_run()
    (message,) = [m for m in mailoutbox if m.to == ["ada@example.org"]]
    links = [(m[1], m[2], int(m[3]), m[4]) for m in FEEDBACK.finditer(html_part(message))]
    return ada, message, links


def link_for(links, action: str, n: int = 0) -> tuple[str, int]:
    path, _, paper_id, _ = [link for link in links if link[3] == action][n]
    return path, paper_id


def test_every_paper_of_the_digest_carries_three_links_under_one_signature(sent):
    ada, message, links = sent
    digest = Digest.objects.get(subscriber=ada)
    shown = set(DigestItem.objects.filter(digest=digest).values_list("paper_id", flat=True))
    assert len(shown) >= 3  # matched papers and trending ones
    assert {paper_id for _, _, paper_id, _ in links} == shown
    assert len(links) == 3 * len(shown)
    assert len({token for _, token, _, _ in links}) == 1  # one signature for the whole digest
    # The plain-text part carries the same links, each on its own line under its paper.
    text_links = [(m[1], m[2], int(m[3]), m[4]) for m in FEEDBACK.finditer(message.body)]
    assert sorted(text_links) == sorted(links)
    for path, _, _, action in text_links:
        label = {"more": "More like this", "less": "Less like this", "save": "Save"}[action]
        assert f"\n  {label}: https://alerts.example.org{path}\n" in message.body


def test_opening_records_nothing_pressing_records_once_and_undo_takes_it_back(client, sent):
    ada, _, links = sent
    path, paper_id = link_for(links, "more")
    page = client.get(path)
    assert page.status_code == 200
    assert "More like this" in page.text
    assert '<form method="post"' in page.text
    assert not Vote.objects.exists()
    assert client.head(path).status_code == 200
    assert not Vote.objects.exists()

    pressed = client.post(path, {"do": "record"})
    assert pressed.status_code == 302
    confirmed = client.get(pressed["Location"])
    assert "Noted: more like this" in confirmed.text
    assert "Undo" in confirmed.text
    assert "Less like this" in confirmed.text
    assert "Save" in confirmed.text
    client.post(path, {"do": "record"})  # a second press changes nothing
    assert list(Vote.objects.values_list("subscriber_id", "paper_id", "action")) == [
        (ada.pk, paper_id, "more")
    ]

    # The opposite vote replaces it; save stands beside it.
    client.post(path.replace("/more/", "/less/"), {"do": "record"})
    client.post(path.replace("/more/", "/save/"), {"do": "record"})
    assert set(Vote.objects.values_list("action", flat=True)) == {"less", "save"}

    undone = client.post(path.replace("/more/", "/less/"), {"do": "undo"})
    assert "Taken back" in client.get(undone["Location"]).text
    assert set(Vote.objects.values_list("action", flat=True)) == {"save"}


@pytest.mark.parametrize(
    ("mangle", "says"),
    [
        (lambda p, t, pid, a: p.replace(t, t[:-3] + ("AAA" if t[-3:] != "AAA" else "BBB")), "not valid"),
        (lambda p, t, pid, a: p.replace(t, t.split(".")[0]), "not valid"),
        (lambda p, t, pid, a: p.replace(f"/{pid}/", "/999999/"), "not one of that digest"),
        (lambda p, t, pid, a: p.replace(f"/{pid}/", "/12ab/"), "names no paper"),
        (lambda p, t, pid, a: p.replace(f"/{a}/", "/delete/"), "action that does not exist"),
        (lambda p, t, pid, a: f"/feedback/preview/{pid}/{a}/", "from a preview"),
    ],
)
def test_forged_or_altered_links_are_refused_and_store_nothing(client, sent, mangle, says):
    _, _, links = sent
    path, token, paper_id, action = links[0]
    bad = mangle(path, token, paper_id, action)
    for response in (client.get(bad), client.post(bad, {"do": "record"})):
        assert response.status_code == 404
        assert says in response.text
        assert "Nothing was recorded" in response.text
    assert not Vote.objects.exists()


def test_a_token_cannot_vote_on_another_subscribers_papers_or_outlive_its_secret(client, sent, mailoutbox):
    ada, _, links = sent
    (bob_message,) = [m for m in mailoutbox if m.to == ["bob@example.org"]]
    bob_path, _, bob_paper, _ = next(FEEDBACK.finditer(html_part(bob_message))).groups()
    bob_papers = set(
        DigestItem.objects.filter(digest__subscriber__email="bob@example.org").values_list(
            "paper_id", flat=True
        )
    )
    path, _, paper_id, _ = next(link for link in links if link[2] not in bob_papers)
    # Bob's token with a paper of ada's digest, ada's with a paper she was never sent.
    unsent = Paper.objects.exclude(pk__in=[link[2] for link in links]).first()
    for forged in (
        bob_path.replace(f"/{bob_paper}/", f"/{paper_id}/"),
        path.replace(f"/{paper_id}/", f"/{unsent.pk}/"),
    ):
        response = client.post(forged, {"do": "record"})
        assert response.status_code == 404
        assert "not one of that digest" in response.text
    assert not Vote.objects.exists()
    # A new token secret (signing out everywhere) revokes every feedback link sent so far.
    Subscriber.objects.filter(pk=ada.pk).update(token_secret="0" * 32)
    assert client.post(path, {"do": "record"}).status_code == 404
    assert not Vote.objects.exists()


def test_a_flood_of_votes_is_rate_limited(client, sent, settings):
    settings.RATE_LIMIT_FEEDBACK = "5/d"
    _, _, links = sent
    distinct = [path for path, _, _, action in links if action != "less"]  # none takes another back
    presses = distinct[:5] + distinct[:2]
    statuses = [client.post(path, {"do": "record"}).status_code for path in presses]
    assert statuses == [302] * 5 + [429] * 2
    assert Vote.objects.count() == 5
    limited = client.get(links[0][0])
    assert limited.status_code == 429
    assert "Retry-After" in limited


def test_saved_papers_page_lists_newest_first_removes_and_exports(client, sent):
    ada, _, links = sent
    first, first_id = link_for(links, "save", 0)
    second, second_id = link_for(links, "save", 1)
    client.post(first, {"do": "record"})
    client.post(second, {"do": "record"})
    Vote.objects.filter(paper_id=first_id).update(created_at=Vote.objects.get(paper_id=second_id).created_at)
    Vote.objects.filter(paper_id=second_id).update(
        created_at=Vote.objects.get(paper_id=first_id).created_at.replace(year=2030)
    )
    saved_url = first.rsplit("/", 3)[0] + "/saved/"
    page = client.get(saved_url)
    titles = [Paper.objects.get(pk=i).title for i in (second_id, first_id)]
    assert page.status_code == 200
    assert page.text.index(titles[0]) < page.text.index(titles[1])

    bib = client.get(saved_url + "papers.bib")
    assert bib["Content-Type"].startswith("text/x-bibtex")
    assert bib.text.count("@misc{") == 2
    assert titles[0] in bib.text
    ids = client.get(saved_url + "arxiv-ids.txt").text.split()
    assert ids == [Paper.objects.get(pk=i).arxiv_id for i in (second_id, first_id)]

    client.post(saved_url, {"paper": str(second_id)})
    assert list(Vote.objects.values_list("paper_id", flat=True)) == [first_id]
    # The same page from the manage link.
    manage = f"/manage/{make_token(ada, MANAGE)}/"
    assert f"{manage}saved/" in client.get(manage).text
    assert titles[1] in client.get(f"{manage}saved/").text


def test_votes_show_on_the_manage_page_are_removable_and_download_as_json(client, sent):
    ada, _, links = sent
    path, paper_id = link_for(links, "more")
    client.post(path, {"do": "record"})
    manage = f"/manage/{make_token(ada, MANAGE)}/"
    page = client.get(manage)
    title = Paper.objects.get(pk=paper_id).title
    assert "More like this" in page.text
    assert title in page.text

    data = client.get(f"{manage}data.json")
    assert data["Content-Disposition"].startswith("attachment")
    exported = json.loads(data.content)
    assert exported["email"] == "ada@example.org"
    assert [(v["action"], v["title"]) for v in exported["votes"]] == [("more", title)]
    assert [f["name"] for f in exported["filters"]] == ["Diffusion"]

    client.post(f"{manage}votes/", {"paper": str(paper_id), "action": "more"})
    assert not Vote.objects.exists()


def test_erasure_removes_votes_and_saved_papers(client, sent):
    ada, _, links = sent
    for action in ("more", "save"):
        client.post(link_for(links, action)[0], {"do": "record"})
    assert Vote.objects.count() == 2
    assert ReaderModel.objects.filter(subscriber=ada).exists()  # a retraining was asked for
    services.subscriber_erase(subscriber=ada, actor=SubscriberEvent.Actor.ADMIN)
    assert not Vote.objects.exists()
    assert not ReaderModel.objects.exists()


def test_the_browser_view_carries_the_same_feedback_links(client, sent):
    _, message, links = sent
    view = re.search(r"View in your browser: https://alerts\.example\.org(\S+)", message.body).group(1)
    page = client.get(view)
    assert page.status_code == 200
    assert {m.group(1) for m in FEEDBACK.finditer(page.text)} == {path for path, *_ in links}


def test_votes_are_listed_in_the_admin(admin_client, client, sent):
    _, _, links = sent
    path, _paper_id = link_for(links, "save")
    client.post(path, {"do": "record"})
    page = admin_client.get("/admin/subscribers/vote/")
    assert page.status_code == 200
    assert "ada@example.org" in page.text
    assert "Save" in page.text


def test_the_digest_links_to_the_saved_papers_and_the_feed_carries_feedback_links(client, sent):
    ada, message, links = sent
    saved = re.search(
        r'href="https://alerts\.example\.org(/feedback/[^"]+/saved/)"[^>]*>Your saved papers',
        html_part(message),
    ).group(1)
    assert saved == links[0][0].rsplit("/", 3)[0] + "/saved/"
    assert client.get(saved).status_code == 200
    feed = client.get(feed_url(ada).removeprefix(SITE))
    assert feed.status_code == 200
    assert {m.group(1) for m in FEEDBACK.finditer(feed.text)} == {path for path, *_ in links}
