"""The daily digest, in-process: dispatch, match, rank, render, send (locmem outbox)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import redis
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from alerts.digests.dispatch import digests_dispatch, pending_of_run
from alerts.digests.runner import digests_run
from alerts.digests.sending import digests_send
from alerts.models import Digest, DigestItem, Paper
from alerts.search.matcher import PaperDoc, PaperIndex, iter_bits
from subscribers.models import Subscriber
from tests.factories import PaperFactory

from .conftest import SITE, html_of, make_papers, messages_by_recipient, subscribe

pytestmark = pytest.mark.django_db


def matcher_says(queries: list[str]) -> set[int]:
    """The ids of the stored papers any of `queries` matches, straight from the matcher."""
    papers = list(Paper.objects.order_by("pk"))
    index = PaperIndex([PaperDoc(p.title, p.abstract, tuple(p.authors), tuple(p.categories)) for p in papers])
    bits = 0
    for query in queries:
        bits |= index.match(query)
    return {papers[i].pk for i in iter_bits(bits)}


def test_each_subscriber_gets_exactly_what_their_filters_match(papers, mailoutbox):
    ada = subscribe("ada@example.org", ("Diffusion", "diffusion"), timezone="Europe/Berlin")
    bob = subscribe("bob@example.org", ("LeCun", "au:lecun"), ("Weather", "ti:weather AND cat:cs.LG"))
    cy = subscribe("cy@example.org", ("Robotics", "cat:cs.RO"), frequency="weekly", timezone="Asia/Kolkata")
    call_command("send_digests", stdout=open("/dev/null", "w"))  # noqa: SIM115

    sent = messages_by_recipient(mailoutbox)
    assert set(sent) == {"ada@example.org", "bob@example.org", "cy@example.org"}
    for subscriber in (ada, bob, cy):
        digest = Digest.objects.get(subscriber=subscriber)
        assert digest.status == Digest.Status.SENT
        queries = list(subscriber.filters.values_list("query", flat=True))
        items = set(DigestItem.objects.filter(digest=digest).values_list("paper_id", flat=True))
        assert items == matcher_says(queries)
        text = sent[subscriber.email].body
        for paper in Paper.objects.all():
            assert (paper.title in text) == (paper.pk in items), (subscriber.email, paper.title)
    # Every item says which filter matched it and which terms.
    ada_items = DigestItem.objects.filter(digest__subscriber=ada).order_by("rank")
    assert [i.filters for i in ada_items] == [["Diffusion"], ["Diffusion"]]
    assert all("diffus" in " ".join(i.terms) for i in ada_items)


def test_subject_says_what_is_inside(papers, mailoutbox):
    subscribe("ada@example.org", ("diffusion models", "diffusion"))
    call_command("send_digests", stdout=open("/dev/null", "w"))  # noqa: SIM115
    (message,) = mailoutbox
    today = timezone.now().date()
    assert message.subject == f"2 new papers for 'diffusion models', {today:%a} {today.day} {today:%b}"


def test_digest_has_both_parts_links_and_one_click_unsubscribe_headers(papers, mailoutbox):
    subscriber = subscribe("ada@example.org", ("Sparse attention", '"sparse attention"'))
    call_command("send_digests", stdout=open("/dev/null", "w"))  # noqa: SIM115
    (message,) = mailoutbox
    html = html_of(message)
    paper = papers["sparse-attention"]
    # Plain text: title, authors, links, why, manage and unsubscribe.
    assert paper.title in message.body
    assert f"https://arxiv.org/abs/{paper.arxiv_id}" in message.body
    assert "Manage your filters: https://alerts.example.org/manage/" in message.body
    assert "Unsubscribe: https://alerts.example.org/unsubscribe/" in message.body
    assert "View in your browser: https://alerts.example.org/digest/" in message.body
    assert "subscribed to Paper alerts with the filters 'Sparse attention'" in message.body
    # HTML: no scripts, no remote images, CSS inlined, matched terms highlighted, all links absolute.
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert 'style="' in html
    assert re.search(r"<mark[^>]*>attention</mark>", html, re.I)
    hrefs = re.findall(r'href="([^"]+)"', html)
    assert hrefs
    assert all(h.startswith(("https://", "http://")) for h in hrefs)
    assert f"https://huggingface.co/papers/{paper.arxiv_id}" in hrefs  # upvoted: its HF page
    assert f'35 upvotes on <a href="https://huggingface.co/papers/{paper.arxiv_id}">Hugging Face</a>' in html
    assert "Matched: Sparse attention" in html
    # Headers for mailbox providers (RFC 2369, RFC 8058) and for the ESP's webhooks.
    headers = message.extra_headers
    unsubscribe = re.match(r"<(https://[^>]+)>, <mailto:[^>]+>$", headers["List-Unsubscribe"])
    assert unsubscribe
    assert unsubscribe.group(1).startswith(f"{SITE}/unsubscribe/")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Id"].endswith("<digest.alerts.example.org>")
    digest = Digest.objects.get(subscriber=subscriber)
    assert message.metadata == {"digest_id": str(digest.pk)}
    assert message.tags == ["digest"]
    assert digest.esp_message_id == headers["Message-ID"].strip("<>")


def test_running_dispatch_and_send_twice_sends_nothing_twice(papers, mailoutbox):
    subscribe("ada@example.org", ("Diffusion", "diffusion"))
    subscribe("bob@example.org", ("Attention", "attention"))
    first = digests_run()
    second = digests_run()
    assert (first.created, first.sent) == (2, 2)
    assert (second.created, second.sent) == (0, 0)
    digests_dispatch()
    assert Digest.objects.count() == 2
    assert len(mailoutbox) == 2


def test_the_beat_dispatch_only_takes_subscribers_whose_hour_has_come(papers):
    now = dt.datetime(2026, 11, 24, 7, 20, tzinfo=dt.UTC)
    due = subscribe("due@example.org", ("x", "diffusion"), send_hour=7)
    later = subscribe("later@example.org", ("x", "diffusion"), send_hour=8)
    kolkata = subscribe("kolkata@example.org", ("x", "diffusion"), send_hour=12, timezone="Asia/Kolkata")
    result = digests_dispatch(now=now)
    made = set(Digest.objects.values_list("subscriber_id", flat=True))
    assert made == {due.pk, kolkata.pk}  # 07:20 UTC is 12:50 in Kolkata
    assert later.pk not in made
    assert result.created == 2


def test_a_paper_sent_once_is_never_sent_again_whatever_its_version(papers, mailoutbox):
    subscriber = subscribe("ada@example.org", ("Diffusion", "diffusion"))
    now = timezone.now()
    digests_run(now=now)
    assert len(mailoutbox) == 1
    # The next day: a new version of a paper already sent (same row, updated in place) and a
    # new paper.
    Paper.objects.filter(pk=papers["diffusion-video"].pk).update(
        version=2, title="A diffusion transformer, v2"
    )
    fresh = PaperFactory(title="Latent diffusion for audio", first_seen_at=now + dt.timedelta(hours=20))
    tomorrow = now + dt.timedelta(days=1)
    digests_run(now=tomorrow, day=tomorrow.date())
    assert len(mailoutbox) == 2
    second = Digest.objects.filter(subscriber=subscriber).order_by("-period").first()
    assert list(second.items.values_list("paper_id", flat=True)) == [fresh.pk]
    assert "A diffusion transformer, v2" not in mailoutbox[1].body


def test_a_gap_between_digests_loses_no_papers(db, mailoutbox):
    subscriber = subscribe("ada@example.org", ("Diffusion", "diffusion"))
    start = timezone.now() - dt.timedelta(days=4)
    make_papers(seen_at=start - dt.timedelta(hours=1), prefix="2611")
    digests_run(now=start, day=start.date())
    assert len(mailoutbox) == 1
    # No digest for three days (the service was down), papers kept arriving.
    for day in (1, 2, 3):
        PaperFactory(title=f"Diffusion paper of day {day}", first_seen_at=start + dt.timedelta(days=day))
    digests_run()
    latest = Digest.objects.filter(subscriber=subscriber).order_by("-period").first()
    titles = set(latest.items.values_list("paper__title", flat=True))
    assert titles == {"Diffusion paper of day 1", "Diffusion paper of day 2", "Diffusion paper of day 3"}


def test_an_empty_digest_is_skipped_unless_the_subscriber_wants_it(papers, mailoutbox):
    quiet = subscribe("quiet@example.org", ("Nothing", "ti:photosynthesis"))
    wants = subscribe("wants@example.org", ("Nothing", "ti:photosynthesis"), send_when_empty=True)
    run = digests_run()
    assert (run.sent, run.skipped) == (1, 1)
    assert Digest.objects.get(subscriber=quiet).status == Digest.Status.SKIPPED
    assert Digest.objects.get(subscriber=wants).status == Digest.Status.SENT
    (message,) = mailoutbox
    assert message.to == ["wants@example.org"]
    assert message.subject.startswith("No new papers for 'Nothing'")


def test_a_subscriber_who_left_after_dispatch_gets_nothing(papers, mailoutbox):
    subscriber = subscribe("ada@example.org", ("Diffusion", "diffusion"))
    result = digests_dispatch(due_only=False)
    Subscriber.objects.filter(pk=subscriber.pk).update(status=Subscriber.Status.UNSUBSCRIBED)
    (ids,) = list(pending_of_run(result.window_end))
    outcome = digests_send(digest_ids=ids)
    assert (outcome.sent, outcome.skipped) == (0, 1)
    digest = Digest.objects.get()
    assert digest.status == Digest.Status.SKIPPED
    assert digest.last_error == "subscriber no longer receives digests"
    assert mailoutbox == []


def test_trending_section_lists_top_upvoted_papers_in_the_subscribers_categories(papers, mailoutbox):
    subscribe("ada@example.org", ("Weather", "ti:weather"), include_trending=True)
    digests_run()
    (message,) = mailoutbox
    assert "Trending today" in message.body
    trending = DigestItem.objects.filter(section=DigestItem.Section.TRENDING).order_by("rank")
    # Ada's paper is in cs.LG and physics.ao-ph: the upvoted cs.LG papers other than hers.
    assert [i.paper.title for i in trending] == [papers["sparse-attention"].title]


def test_max_papers_caps_the_digest_and_keeps_the_best(db, mailoutbox):
    subscriber = subscribe("ada@example.org", ("Attention", "attention"), max_papers=5)
    for n in range(8):
        title = "Attention everywhere" if n == 3 else f"Paper {n}"
        PaperFactory(title=title, abstract=f"We study attention, variant {n}.")
    digests_run()
    items = list(
        DigestItem.objects.filter(digest__subscriber=subscriber, section=DigestItem.Section.MATCHED).order_by(
            "rank"
        )
    )
    assert len(items) == 5
    assert items[0].paper.title == "Attention everywhere"  # the title match ranks first
    # Nothing silently cut: the other three are kept for the browser view, and the email
    # says so with a link to it.
    digest = Digest.objects.get(subscriber=subscriber)
    assert digest.more_matches["total"] == 3
    assert len(digest.more_paper_ids) == 3
    assert not DigestItem.objects.filter(digest=digest, paper_id__in=digest.more_paper_ids).exists()
    (message,) = mailoutbox
    assert "3 more matches not in this email; see them all in your browser:" in message.body
    view = re.search(r"see them all in your browser:\n(\S+)", message.body).group(1)
    assert view.rsplit("/digest/", 1)[1] in re.search(r"View in your browser: (\S+)", message.body).group(1)


def _queries_for(count: int, offset: int) -> int:
    for n in range(count):
        subscribe(f"reader{offset + n}@example.org", ("Diffusion", "diffusion"), ("Attention", "attention"))
    with CaptureQueriesContext(connection) as ctx:
        result = digests_dispatch(due_only=False)
        (ids,) = list(pending_of_run(result.window_end))
        outcome = digests_send(digest_ids=ids)
    assert outcome.sent == count
    return len(ctx.captured_queries)


def test_dispatch_and_sending_a_chunk_take_the_same_queries_for_10_or_100_digests(
    papers, settings, redis_server
):
    # As in production: the send journal is in Redis, the database is written in bulk.
    settings.REDIS_URL = redis_server.url
    settings.DIGEST_CHUNK_SIZE = 1000
    small = _queries_for(10, 0)
    Digest.objects.all().delete()
    Subscriber.objects.all().delete()
    large = _queries_for(100, 1000)
    assert small == large
    # 20, one for the chunk's "similar to" seed papers (composing.seeds_of), one for its
    # readers' models (subscribers.reader_models.models_of), and one with which the dispatch
    # first ends the pauses that are over.
    assert large <= 23


def test_the_send_journal_takes_one_write_a_digest(papers, settings, redis_server, mailoutbox):
    """Each hand-off is noted with the next digest's start in one write: a Redis round trip a
    digest, not two."""
    settings.REDIS_URL = redis_server.url
    settings.DIGEST_CHUNK_SIZE = 1000
    for n in range(12):
        subscribe(f"reader{n}@example.org", ("Diffusion", "diffusion"))
    (ids,) = list(pending_of_run(digests_dispatch(due_only=False).window_end))
    client = redis.Redis.from_url(redis_server.url)
    client.config_resetstat()
    assert digests_send(digest_ids=ids).sent == 12
    writes = client.info("commandstats")
    # The first digest's start, then 12 "sent", 11 of them with the next one's start.
    assert writes["cmdstat_hset"]["calls"] == 13
    assert writes["cmdstat_hdel"]["calls"] == 1  # forgotten in one write once recorded
