"""Signed links to a digest's browser view and to a subscriber's Atom feed.

The tokens are subscribers.tokens' object tokens: the digest's (or feed owner's) id and an
HMAC keyed by the owner's token secret, so replacing that secret, or erasing the
subscriber, revokes every such link at once.
"""

from __future__ import annotations

from django.conf import settings
from django.urls import get_script_prefix, reverse

from subscribers.models import Subscriber
from subscribers.tokens import DIGEST, FEED, TokenInvalid, object_id_of, object_token, object_token_check

from .models import Digest

_paths: dict[str, str] = {}


def _url(name: str, token: str) -> str:
    template = _paths.get(name)
    if template is None:
        # SITE_URL holds any prefix the site is mounted under; the request's is dropped.
        path = reverse(name, args=["TOKEN"]).removeprefix(get_script_prefix())
        template = _paths[name] = "/" + path.replace("TOKEN", "{}")
    return settings.SITE_URL + template.format(token)


def digest_view_url(digest: Digest, subscriber: Subscriber) -> str:
    return _url("digest-view", object_token(subscriber, DIGEST, digest.pk))


def digest_from_token(token: str) -> Digest | None:
    """The digest a view link names, or None for a forged, truncated or revoked link."""
    try:
        digest = Digest.objects.select_related("subscriber").filter(pk=object_id_of(token)).first()
        object_token_check(token, DIGEST, digest.subscriber if digest else None)
    except TokenInvalid:
        return None
    return digest


def feed_url(subscriber: Subscriber) -> str:
    return _url("digest-feed", object_token(subscriber, FEED, subscriber.pk))


def subscriber_from_feed_token(token: str) -> Subscriber | None:
    try:
        subscriber = Subscriber.objects.filter(pk=object_id_of(token)).first()
        object_token_check(token, FEED, subscriber)
    except TokenInvalid:
        return None
    return subscriber
