"""Signed links: what they accept, what they refuse, what the pages say, and their cost."""

import time
import timeit

import pytest
from django.core import signing
from django.test import Client

from subscribers import tokens
from subscribers.models import Subscriber
from tests.factories import SubscriberFactory

pytestmark = pytest.mark.django_db
SITE = "https://alerts.example.org"
WEEK = 7 * 24 * 3600


@pytest.fixture
def subscriber():
    return SubscriberFactory(status=Subscriber.Status.PENDING)


@pytest.mark.parametrize("purpose", tokens.PURPOSES)
def test_a_token_names_its_subscriber(subscriber, purpose):
    token = tokens.make_token(subscriber, purpose)
    assert tokens.subscriber_from_token(token, purpose) == subscriber


def test_links_are_absolute_and_built_from_site_url(subscriber, settings):
    settings.SITE_URL = "https://papers.example.net/alerts"
    assert tokens.manage_url(subscriber).startswith("https://papers.example.net/alerts/manage/")
    assert tokens.unsubscribe_url(subscriber).startswith("https://papers.example.net/alerts/unsubscribe/")
    assert tokens.confirm_url(subscriber).startswith("https://papers.example.net/alerts/confirm/")
    assert tokens.manage_url(subscriber).endswith("/")


def test_the_signature_is_django_signings_hmac(subscriber):
    # The cached key derivation must give exactly what django.core.signing computes.
    signer = tokens._signer(tokens.MANAGE)
    plain = signing.Signer(key=signer.key, salt=signer.salt, sep=".", algorithm="sha256")
    assert signer.signature("1.secret") == plain.signature("1.secret")


def forged_variants(token: str) -> list[str]:
    ident, signature = token.rsplit(".", 1)
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return [
        f"{ident}.{flipped}",  # signature changed
        token[:-1],  # truncated
        token[:10],  # truncated a lot
        token + "A",  # too long
        "",
        "....",
        f"zz.{signature}",  # another id
        "not a token",
    ]


@pytest.mark.parametrize("purpose", tokens.PURPOSES)
def test_forged_and_truncated_tokens_are_refused(subscriber, purpose):
    for bad in forged_variants(tokens.make_token(subscriber, purpose)):
        with pytest.raises(tokens.TokenInvalid):
            tokens.subscriber_from_token(bad, purpose)


def test_a_token_only_works_for_its_purpose(subscriber):
    manage = tokens.make_token(subscriber, tokens.MANAGE)
    with pytest.raises(tokens.TokenInvalid):
        tokens.subscriber_from_token(manage, tokens.UNSUBSCRIBE)
    unsubscribe = tokens.make_token(subscriber, tokens.UNSUBSCRIBE)
    with pytest.raises(tokens.TokenInvalid):
        tokens.subscriber_from_token(unsubscribe, tokens.MANAGE)


def test_another_subscribers_id_with_a_valid_signature_is_refused(subscriber):
    other = SubscriberFactory()
    token = tokens.make_token(subscriber, tokens.MANAGE)
    signature = token.split(".")[1]
    with pytest.raises(tokens.TokenInvalid):
        tokens.subscriber_from_token(f"{signing.b62_encode(other.pk)}.{signature}", tokens.MANAGE)


def test_the_confirmation_link_expires_after_seven_days(subscriber):
    fresh = tokens.make_token(subscriber, tokens.CONFIRM, timestamp=int(time.time()) - WEEK + 60)
    assert tokens.subscriber_from_token(fresh, tokens.CONFIRM) == subscriber
    old = tokens.make_token(subscriber, tokens.CONFIRM, timestamp=int(time.time()) - WEEK - 60)
    with pytest.raises(tokens.TokenExpired):
        tokens.subscriber_from_token(old, tokens.CONFIRM)


def test_manage_and_unsubscribe_links_never_expire(subscriber):
    # They carry no time at all: a year-old digest's unsubscribe link still works.
    token = tokens.make_token(subscriber, tokens.UNSUBSCRIBE)
    assert len(token.split(".")) == 2


def test_rotating_the_token_secret_revokes_every_link_but_the_unsubscribe_link(subscriber):
    links = {purpose: tokens.make_token(subscriber, purpose) for purpose in tokens.PURPOSES}
    subscriber.token_secret = "f" * 32
    subscriber.save()
    for purpose in (tokens.CONFIRM, tokens.MANAGE):
        with pytest.raises(tokens.TokenInvalid):
            tokens.subscriber_from_token(links[purpose], purpose)
    # Every digest ever sent carries it: it is keyed by a secret that is never replaced.
    assert tokens.subscriber_from_token(links[tokens.UNSUBSCRIBE], tokens.UNSUBSCRIBE) == subscriber


def test_links_survive_a_secret_key_rotation_through_the_fallbacks(subscriber, settings):
    token = tokens.make_token(subscriber, tokens.MANAGE)
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40
    assert tokens.subscriber_from_token(token, tokens.MANAGE) == subscriber
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(tokens.TokenInvalid):
        tokens.subscriber_from_token(token, tokens.MANAGE)


def test_a_deleted_subscribers_links_are_refused(subscriber):
    token = tokens.make_token(subscriber, tokens.UNSUBSCRIBE)
    subscriber.delete()
    with pytest.raises(tokens.TokenInvalid):
        tokens.subscriber_from_token(token, tokens.UNSUBSCRIBE)


# The pages -----------------------------------------------------------------------------


def test_expired_forged_and_truncated_links_get_one_helpful_page(subscriber):
    client = Client()
    expired = tokens.make_token(subscriber, tokens.CONFIRM, timestamp=int(time.time()) - WEEK - 60)
    good = tokens.make_token(subscriber, tokens.CONFIRM)
    pages = [
        client.get(f"/confirm/{expired}/"),
        *(client.get(f"/confirm/{bad}/") for bad in forged_variants(good)[:3]),
    ]
    manage = tokens.make_token(subscriber, tokens.MANAGE)
    pages += [client.get(f"/manage/{manage[:-2]}/"), client.get(f"/unsubscribe/{manage}/")]
    pages.append(Client(enforce_csrf_checks=True).post(f"/unsubscribe/{manage[:-2]}/"))
    assert {page.status_code for page in pages} == {404}
    # One page for every case: it tells a holder of a guessed link nothing.
    assert len({page.content for page in pages}) == 1
    text = pages[0].text
    assert "This link does not work" in text
    assert 'href="/"' in text and 'href="/resend/"' in text  # noqa: PT018 - both offers on one page
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING


def test_a_confirmation_sent_before_an_unsubscribe_cannot_undo_it(client):
    subscriber = SubscriberFactory(status=Subscriber.Status.UNSUBSCRIBED)
    before = tokens.make_token(
        subscriber, tokens.CONFIRM, timestamp=int(subscriber.status_changed_at.timestamp()) - 5
    )
    assert client.get(f"/confirm/{before}/").status_code == 404
    assert client.post(f"/confirm/{before}/").status_code == 404
    after = tokens.make_token(subscriber, tokens.CONFIRM)
    assert client.post(f"/confirm/{after}/").status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE


def test_confirming_twice_is_harmless(client, subscriber):
    token = tokens.make_token(subscriber, tokens.CONFIRM)
    assert client.post(f"/confirm/{token}/").status_code == 200
    assert client.post(f"/confirm/{token}/").status_code == 200
    assert client.get(f"/confirm/{token}/").status_code == 200  # the link again: "you are subscribed"
    assert subscriber.events.filter(kind="confirmed").count() == 1


def test_opening_the_confirmation_link_does_not_confirm_pressing_the_button_does(client, subscriber):
    # Mail scanners fetch every link of an email: a GET must not confirm anything.
    token = tokens.make_token(subscriber, tokens.CONFIRM)
    page = client.get(f"/confirm/{token}/")
    assert page.status_code == 200
    assert "Confirm my subscription" in page.text
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.PENDING
    confirmed = Client(enforce_csrf_checks=True).post(f"/confirm/{token}/")  # no cookie, no CSRF token
    assert "You are subscribed" in confirmed.text
    subscriber.refresh_from_db()
    assert subscriber.status == Subscriber.Status.ACTIVE


# Cost: the digest pipeline makes ~10,000 links a second per core. ----------------------


def test_making_a_link_costs_a_few_microseconds(subscriber):
    tokens.unsubscribe_url(subscriber)  # warm the caches
    runs = 20_000
    best = min(timeit.repeat(lambda: tokens.unsubscribe_url(subscriber), number=runs, repeat=5)) / runs
    print(f"unsubscribe_url: {best * 1e6:.2f} µs per link")
    assert best < 20e-6  # a few µs on a laptop; generous for a loaded 2-core CI machine


# Links already sent keep working: tokens made before the signer was rebuilt on hmac. ----

FIXED_SECRET = "0123456789abcdef0123456789abcdef"
OLD_KEY = "old-secret-key-for-fixed-tokens-" + "o" * 20
NEW_KEY = "new-secret-key-for-fixed-tokens-" + "n" * 20
ISSUED = 1764300000  # 2025-11-28 03:20 UTC, in seconds
# purpose -> token, for subscriber 4242 (digest 777), made with SECRET_KEY = OLD_KEY ...
MADE_WITH_OLD_KEY = {
    tokens.CONFIRM: "16Q.V3oN00u.iC5plp7imdIFA1jUcGL5RVbaVO2",
    tokens.MANAGE: "16Q.S2SVhOnOAaYhZq4CQP_dyvZ0TMY",
    tokens.UNSUBSCRIBE: "16Q.Xy8i2z83MkTuJI6I6mD46gKLofU",
    tokens.DIGEST: "CX.joHzAFRJ-uzZ0pC4XCeTP2d7LOU",
    tokens.FEED: "16Q.JjUb5loSWuDNSugBNKCtlniW9v_",
}
# ... and with SECRET_KEY = NEW_KEY.
MADE_WITH_NEW_KEY = {
    tokens.CONFIRM: "16Q.V3oN00u.bDScwSfAxlzQknv1r0s4N2IF2Oj",
    tokens.MANAGE: "16Q.5EATXBJjVc2LM_B23-OiL4yMkWd",
    tokens.UNSUBSCRIBE: "16Q.4fbN_j3typJgzRJsc1ks1GN0Rsq",
    tokens.DIGEST: "CX.CFOGoWySxK9_IRCPL_0lbpF6pme",
    tokens.FEED: "16Q.BwzIUmwgwRAgQAwdCP5SBAhOtoC",
}


def made_now(subscriber) -> dict[str, str]:
    made = {purpose: tokens.make_token(subscriber, purpose, timestamp=ISSUED) for purpose in tokens.PURPOSES}
    made[tokens.DIGEST] = tokens.object_token(subscriber, tokens.DIGEST, 777)
    made[tokens.FEED] = tokens.object_token(subscriber, tokens.FEED, subscriber.pk)
    return made


def assert_accepted(subscriber, links: dict[str, str]) -> None:
    for purpose in (tokens.MANAGE, tokens.UNSUBSCRIBE):
        assert tokens.subscriber_from_token(links[purpose], purpose) == subscriber
    # A genuine confirmation from 2025 is refused as expired, never as forged.
    with pytest.raises(tokens.TokenExpired):
        tokens.subscriber_from_token(links[tokens.CONFIRM], tokens.CONFIRM)
    tokens.object_token_check(links[tokens.DIGEST], tokens.DIGEST, subscriber)
    assert tokens.subscriber_from_feed_token(links[tokens.FEED]) == subscriber


def test_links_made_before_keep_the_same_bytes_and_still_verify(settings):
    # A subscriber from before unsubscribe links had their own secret: migration 0004 began
    # it as a copy of token_secret, so the unsubscribe links sent before keep verifying.
    subscriber = SubscriberFactory(pk=4242, token_secret=FIXED_SECRET, unsubscribe_secret=FIXED_SECRET)
    settings.SITE_URL = SITE
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = OLD_KEY, []
    assert made_now(subscriber) == MADE_WITH_OLD_KEY
    assert_accepted(subscriber, MADE_WITH_OLD_KEY)
    assert tokens.unsubscribe_url(subscriber) == f"{SITE}/unsubscribe/{MADE_WITH_OLD_KEY['unsubscribe']}/"
    # After a key rotation: new links with the new key, old links through the fallback.
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = NEW_KEY, [OLD_KEY]
    assert made_now(subscriber) == MADE_WITH_NEW_KEY
    assert_accepted(subscriber, MADE_WITH_NEW_KEY)
    assert_accepted(subscriber, MADE_WITH_OLD_KEY)
    assert tokens.feed_url(subscriber) == f"{SITE}/feed/{MADE_WITH_NEW_KEY['feed']}.xml"
