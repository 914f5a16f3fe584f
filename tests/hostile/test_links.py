"""Forged, truncated, expired and hostile tokens (inputs/tokens.json, and tokens derived
from real ones) in every signed link, by GET and by POST: a 404 page that tells the holder
nothing about why, and nothing changed."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from alerts.digests.runner import digests_run
from alerts.models import Digest
from subscribers import tokens
from subscribers.models import Subscriber, SubscriberEvent
from subscribers.tokens import digest_view_url, feed_url
from tests.factories import PaperFactory, SubscriberFactory, TopicFilterFactory

from .conftest import case_ids, cases

pytestmark = pytest.mark.django_db

FORGED = cases("tokens.json")
# (method, path with {} for the token, the purpose of the token that path takes)
ROUTES = [
    ("get", "/confirm/{}/", tokens.CONFIRM),
    ("post", "/confirm/{}/", tokens.CONFIRM),
    ("get", "/manage/{}/", tokens.MANAGE),
    ("post", "/manage/{}/", tokens.MANAGE),
    ("get", "/unsubscribe/{}/", tokens.UNSUBSCRIBE),
    ("post", "/unsubscribe/{}/", tokens.UNSUBSCRIBE),
    ("post", "/unsubscribe/{}/resubscribe/", tokens.UNSUBSCRIBE),
    ("get", "/digest/{}/", tokens.DIGEST),
    ("get", "/feed/{}.xml", tokens.FEED),
]
WEEK = 7 * 24 * 3600


@pytest.fixture
def people(mailoutbox):
    """Two subscribers with a sent digest each: one whose links are attacked, one whose
    real links are turned against the first."""
    PaperFactory(title="Agents that act")
    made = []
    for email in ("ada@example.org", "bob@example.org"):
        subscriber = SubscriberFactory(email=email, filters=0)
        TopicFilterFactory(subscriber=subscriber, query="ti:agents")
        made.append(subscriber)
    digests_run()
    return made


def genuine(subscriber: Subscriber, purpose: str) -> str:
    if purpose == tokens.DIGEST:
        return (
            digest_view_url(Digest.objects.get(subscriber=subscriber), subscriber)
            .rstrip("/")
            .rsplit("/", 1)[1]
        )
    if purpose == tokens.FEED:
        return feed_url(subscriber).rsplit("/", 1)[1].removesuffix(".xml")
    return tokens.make_token(subscriber, purpose)


def derived(ada: Subscriber, bob: Subscriber, purpose: str) -> dict[str, str]:
    """Tokens made from real ones: each is someone's link, damaged or turned against Ada."""
    real = genuine(ada, purpose)
    ident, signature = real.rsplit(".", 1)
    changed = signature[:5] + ("B" if signature[5] != "B" else "C") + signature[6:]
    other = tokens.MANAGE if purpose != tokens.MANAGE else tokens.UNSUBSCRIBE
    bobs = genuine(bob, purpose)
    made = {
        "truncated_by_one": real[:-1],
        "truncated_to_half": real[: len(real) // 2],
        "one_signature_character_changed": f"{ident}.{changed}",
        "bobs_signature_on_adas_id": f"{real.split('.', 1)[0]}.{bobs.split('.', 1)[1]}",
        "made_for_another_purpose": tokens.make_token(ada, other),
    }
    if purpose == tokens.CONFIRM:
        made["expired"] = tokens.make_token(ada, tokens.CONFIRM, timestamp=int(time.time()) - WEEK - 60)
    return made


def snapshot() -> list:
    return [
        list(Subscriber.objects.order_by("pk").values_list("email", "status", "paused_at", "token_secret")),
        SubscriberEvent.objects.count(),
        list(Digest.objects.order_by("pk").values_list("status", "subject")),
    ]


@pytest.mark.parametrize(("method", "path", "purpose"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_every_bad_token_gets_a_404_that_says_nothing_and_changes_nothing(
    client, people, method, path, purpose
):
    ada, bob = people
    if purpose == tokens.CONFIRM:
        Subscriber.objects.filter(pk=ada.pk).update(status=Subscriber.Status.PENDING)
    before = snapshot()
    bad = {case["name"]: case["token"] for case in FORGED} | derived(ada, bob, purpose)
    pages = {}
    data = {"action": "unsubscribe", "List-Unsubscribe": "One-Click"}
    for name, token in bad.items():
        response = getattr(client, method)(path.format(quote(token, safe="")), data)
        assert response.status_code == 404, name
        pages[name] = response.content.decode()
    assert snapshot() == before
    for name, page in pages.items():
        for secret in (
            "ada@example.org",
            "bob@example.org",
            "Traceback",
            "signature",
            "expired at",
            "superseded",
        ):
            assert secret not in page, (name, secret)
    # At most two pages (the link's own "this link does not work", or the site's "no such
    # page" for a token the URL cannot even hold), the same whatever was wrong.
    assert len(set(pages.values())) <= 2, {page[:300] for page in pages.values()}
    # The genuine link still works: the 404s were the tokens, not the route.
    assert getattr(client, method)(path.format(genuine(ada, purpose)), data).status_code in (200, 302)


@pytest.mark.parametrize("case", FORGED, ids=case_ids(FORGED))
def test_a_bad_token_page_is_helpful(client, case):
    page = client.get("/manage/" + quote(case["token"], safe="") + "/")
    assert page.status_code == 404
    assert 'href="/resend/"' in page.text  # what to do next: ask for the links again
