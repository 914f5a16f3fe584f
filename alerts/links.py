"""Signed links to a digest's browser view and to a subscriber's Atom feed.

The signature's salt mixes in the subscriber's token secret, so replacing that secret (or
erasing the subscriber) revokes every such link at once. The id in the link is not secret;
the signature is what grants access, compared in constant time by django.core.signing.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

from subscribers.models import Subscriber

from .models import Digest


def _signer(purpose: str, subscriber: Subscriber) -> signing.Signer:
    return signing.Signer(salt=f"alerts.{purpose}.{subscriber.token_secret}")


def _read(token: str, purpose: str, load):
    """The object a link names, if its signature is right for that object's subscriber."""
    value, sep, _ = token.rpartition(":")
    if not sep or not value.isdigit() or len(value) > 18:
        return None
    found = load(int(value))
    subscriber = getattr(found, "subscriber", found)
    if found is None or subscriber is None:
        return None
    try:
        _signer(purpose, subscriber).unsign(token)
    except signing.BadSignature:
        return None
    return found


def digest_view_url(digest: Digest, subscriber: Subscriber) -> str:
    token = _signer("digest", subscriber).sign(str(digest.pk))
    return settings.SITE_URL + reverse("digest-view", args=[token])


def digest_from_token(token: str) -> Digest | None:
    """The digest a view link names, or None for a forged, truncated or revoked link."""
    return _read(
        token, "digest", lambda pk: Digest.objects.select_related("subscriber").filter(pk=pk).first()
    )


def feed_url(subscriber: Subscriber) -> str:
    token = _signer("feed", subscriber).sign(str(subscriber.pk))
    return settings.SITE_URL + reverse("digest-feed", args=[token])


def subscriber_from_feed_token(token: str) -> Subscriber | None:
    return _read(token, "feed", lambda pk: Subscriber.objects.filter(pk=pk).first())
