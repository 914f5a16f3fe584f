"""Signed links in emails: confirm, manage and unsubscribe, without a password.

A token is `<id>.<signature>` (confirm: `<id>.<timestamp>.<signature>`), all URL-safe.
The signature is django.core.signing's HMAC-SHA256 over the id (and timestamp) and the
subscriber's `token_secret`, with a salt per purpose: a manage token cannot unsubscribe
or confirm, and replacing `token_secret` revokes every link sent so far. It is checked in
constant time, against SECRET_KEY and then each of SECRET_KEY_FALLBACKS (key rotation).

The digest pipeline makes links for every subscriber of every digest, so making one costs
a few microseconds: the HMAC key of each purpose is derived once per secret key (the same
derivation as `Signer.signature`), not on every call.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from functools import cache

from django.conf import settings
from django.core import signing
from django.urls import get_script_prefix, reverse
from django.utils.crypto import constant_time_compare

from .models import Subscriber

CONFIRM, MANAGE, UNSUBSCRIBE = "confirm", "manage", "unsubscribe"
PURPOSES = (CONFIRM, MANAGE, UNSUBSCRIBE)
# A confirmation link works for a week; manage and unsubscribe links as long as the
# subscriber exists (an unsubscribe link in a year-old digest must still work).
CONFIRM_MAX_AGE = 7 * 24 * 3600
SIGNATURE_LENGTH = 27  # characters of URL-safe base64: 160 bits of the HMAC


class TokenInvalid(Exception):
    """The token is forged, truncated, revoked, for another purpose, or its subscriber is gone."""


class TokenExpired(TokenInvalid):
    """The token was genuine but is older than its purpose allows."""


class LinkSigner(signing.Signer):
    """django.core.signing's Signer, with the per-purpose HMAC key derived once per secret."""

    def signature(self, value, key=None):
        derived = _derived_key(key or self.key, self.salt)
        digest = hmac.digest(derived, str(value).encode(), hashlib.sha256)
        return signing.b64_encode(digest).decode()


@cache
def _derived_key(secret, salt: str) -> bytes:
    # What django.utils.crypto.salted_hmac does on every call: key = H(key_salt + secret).
    secret = secret.encode() if isinstance(secret, str) else secret
    return hashlib.sha256(f"{salt}signer".encode() + secret).digest()


@cache
def _signer(purpose: str, secret_key: str, fallback_keys: tuple) -> LinkSigner:
    return LinkSigner(
        key=secret_key, fallback_keys=list(fallback_keys), sep=".", salt=f"subscribers.tokens.{purpose}"
    )


def _current_signer(purpose: str) -> LinkSigner:
    return _signer(purpose, settings.SECRET_KEY, tuple(settings.SECRET_KEY_FALLBACKS))


def make_token(subscriber: Subscriber, purpose: str, *, timestamp: int | None = None) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    ident = signing.b62_encode(subscriber.pk)
    if purpose == CONFIRM:
        ident = f"{ident}.{signing.b62_encode(int(time.time()) if timestamp is None else timestamp)}"
    signature = _current_signer(purpose).signature(f"{ident}.{subscriber.token_secret}")
    return f"{ident}.{signature[:SIGNATURE_LENGTH]}"


def subscriber_from_token(token: str, purpose: str) -> Subscriber:
    """The subscriber a token was made for; TokenInvalid or TokenExpired otherwise."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    parts = token.split(".")
    if len(parts) != (3 if purpose == CONFIRM else 2) or len(parts[-1]) != SIGNATURE_LENGTH:
        raise TokenInvalid("malformed token")
    ident, signature = ".".join(parts[:-1]), parts[-1]
    try:
        pk = signing.b62_decode(parts[0])
        issued = signing.b62_decode(parts[1]) if purpose == CONFIRM else 0
    except ValueError:
        raise TokenInvalid("malformed token") from None
    if pk <= 0 or pk >= 2**63:
        raise TokenInvalid("malformed token")
    subscriber = Subscriber.objects.filter(pk=pk).first()
    # A missing subscriber still costs a signature check, so timing tells nothing about ids.
    secret = subscriber.token_secret if subscriber else "-"
    signer = _current_signer(purpose)
    message = f"{ident}.{secret}"
    valid = False
    for key in [signer.key, *signer.fallback_keys]:
        expected = signer.signature(message, key)[:SIGNATURE_LENGTH]
        valid |= constant_time_compare(expected, signature)
    if not valid or subscriber is None:
        raise TokenInvalid("bad signature")
    if purpose == CONFIRM:
        if time.time() - issued > CONFIRM_MAX_AGE:
            raise TokenExpired("confirmation link expired")
        # A confirmation sent before the subscriber last left the active state (an
        # unsubscribe, a bounce) must not undo that change: only a fresh one counts.
        left = subscriber.status_changed_at
        if subscriber.status != Subscriber.Status.ACTIVE and left and issued < int(left.timestamp()):
            raise TokenInvalid("confirmation link superseded")
    return subscriber


@cache
def _path_template(name: str) -> str:
    # reverse() costs tens of microseconds; the path only differs in the token. SITE_URL
    # already holds any prefix the site is mounted under, so the request's is dropped.
    path = reverse(name, kwargs={"token": "TOKEN"}).removeprefix(get_script_prefix())
    return "/" + path.replace("TOKEN", "{}")


def _absolute(name: str, token: str) -> str:
    # Built from SITE_URL, never from a request's Host header (which a client controls).
    return settings.SITE_URL + _path_template(name).format(token)


def confirm_url(subscriber: Subscriber) -> str:
    return _absolute("subscribers:confirm", make_token(subscriber, CONFIRM))


def manage_url(subscriber: Subscriber) -> str:
    return _absolute("subscribers:manage", make_token(subscriber, MANAGE))


def unsubscribe_url(subscriber: Subscriber) -> str:
    return _absolute("subscribers:unsubscribe", make_token(subscriber, UNSUBSCRIBE))
