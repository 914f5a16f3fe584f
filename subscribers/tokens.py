"""Signed links in emails: confirm, manage and unsubscribe, without a password; and the
links of invitations and of address changes.

A token is `<id>.<signature>` (confirm: `<id>.<timestamp>.<signature>`), all URL-safe.
The signature is django.core.signing's HMAC-SHA256 over the id (and timestamp) and a
secret of the subscriber, with a salt per purpose: a manage token cannot unsubscribe or
confirm. It is checked in constant time, against SECRET_KEY and then each of
SECRET_KEY_FALLBACKS (key rotation).

Two secrets, by what a link can do:
- `token_secret` keys the links that give control or show what a person reads: confirm,
  manage, the Atom feed and a digest's browser view. Replacing it revokes all of them at
  once: the subscriber's "sign out everywhere", and every unsubscribe (services).
- `unsubscribe_secret` keys the unsubscribe link alone and is never replaced, so the
  unsubscribe link and the RFC 8058 one-click of every digest ever sent keep working after
  a revocation: a person who forwarded a digest, then signed out everywhere, can still
  leave from any old email, and a mail provider's one-click never meets a dead link. The
  link can do nothing but unsubscribe (and offer a fresh confirmation by email). It is a
  per-subscriber secret rather than a signature over the id alone so that a link dies
  with its subscriber: SQLite can give a deleted subscriber's id to the next sign-up, and
  an old link must never unsubscribe that stranger. The field started as a copy of
  `token_secret` (migration 0004), so links sent before it existed keep working too.

The digest pipeline makes links for every subscriber of every digest, so making one costs
a few microseconds: the HMAC of each purpose and key is prepared once per process.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from base64 import urlsafe_b64encode

from django.conf import settings
from django.core import signing
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.urls import get_script_prefix, reverse
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes

from subscribers.models import Invitation, Subscriber

Status = Subscriber.Status

CONFIRM, MANAGE, UNSUBSCRIBE = "confirm", "manage", "unsubscribe"
PURPOSES = (CONFIRM, MANAGE, UNSUBSCRIBE)
# Links to something a subscriber owns (a digest's browser view, their Atom feed): the id
# is the object's, the signature is keyed by the owner's token_secret.
DIGEST, FEED = "digest", "feed"
# A digest's feedback links (more/less like this, save): one signature per digest, the
# paper and the action ride in the path (subscribers.feedback checks them).
FEEDBACK = "feedback"
OBJECT_PURPOSES = (DIGEST, FEED)
# An admin's invitation link (keyed by the invitation's secret) and the link that confirms
# a subscriber's new address (sent to that address, signed over it).
INVITATION, EMAIL_CHANGE = "invitation", "email_change"
# A confirmation link works for a week; manage and unsubscribe links as long as the
# subscriber exists (an unsubscribe link in a year-old digest must still work).
CONFIRM_MAX_AGE = 7 * 24 * 3600
# An address change is confirmed within as long as a sign-up.
EMAIL_CHANGE_MAX_AGE = CONFIRM_MAX_AGE
SIGNATURE_LENGTH = 27  # characters of URL-safe base64: 160 bits of the HMAC
# A confirmation's issue time is in milliseconds; below this it is an older link's seconds.
_MILLISECOND_TOKENS = 10**11


class TokenInvalid(Exception):
    """The token is forged, truncated, revoked, for another purpose, or its subscriber is gone."""


class TokenExpired(TokenInvalid):
    """The token was genuine but is older than its purpose allows."""


class LinkSigner(signing.Signer):
    """django.core.signing's Signer (same salt handling, key derivation, HMAC-SHA256 and
    fallback keys), with the standard library's HMAC keyed once per key and copied per
    link, so that signing one link is one copy and no key derivation."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._keyed_hmacs: dict[bytes, hmac.HMAC] = {}

    def _keyed(self, key) -> hmac.HMAC:
        key = force_bytes(key)
        keyed = self._keyed_hmacs.get(key)
        if keyed is None:
            # The key django.utils.crypto.salted_hmac derives on every call: H(key_salt + secret).
            derived = hashlib.sha256(force_bytes(f"{self.salt}signer") + key).digest()
            keyed = self._keyed_hmacs[key] = hmac.new(derived, digestmod=hashlib.sha256)
        return keyed

    def mac(self, value: str, key=None) -> bytes:
        mac = self._keyed(self.key if key is None else key).copy()
        mac.update(value.encode())
        return mac.digest()

    def signature(self, value, key=None):
        return signing.b64_encode(self.mac(str(value), key)).decode()


_signers: dict[str, LinkSigner] = {}


def _signer(purpose: str) -> LinkSigner:
    signer = _signers.get(purpose)
    if signer is None:
        signer = _signers[purpose] = LinkSigner(sep=".", salt=f"subscribers.tokens.{purpose}")
    return signer


def _sign(purpose: str, message: str, key=None) -> str:
    return urlsafe_b64encode(_signer(purpose).mac(message, key))[:SIGNATURE_LENGTH].decode()


def _signed_by_any_key(purpose: str, message: str, signature: str, length: int = SIGNATURE_LENGTH) -> bool:
    """Checked in constant time against SECRET_KEY and each fallback key (rotation); the
    signature is the first `length` characters of the full one."""
    signer = _signer(purpose)
    valid = False
    for key in [signer.key, *signer.fallback_keys]:
        valid |= constant_time_compare(_sign(purpose, message, key)[:length], signature)
    return valid


def _secret(subscriber: Subscriber | None, purpose: str) -> str:
    """The subscriber's secret that keys links for `purpose` ("-" when there is none)."""
    if subscriber is None:
        return "-"
    return subscriber.unsubscribe_secret if purpose == UNSUBSCRIBE else subscriber.token_secret


def make_token(subscriber: Subscriber, purpose: str, *, timestamp: int | None = None) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    ident = signing.b62_encode(subscriber.pk)
    if purpose == CONFIRM:
        # Issued when, to the millisecond: a confirmation from before an unsubscribe must not
        # undo it, even when both happen within the same second. `timestamp` is in seconds.
        issued = time.time() if timestamp is None else timestamp
        ident = f"{ident}.{signing.b62_encode(int(issued * 1000))}"
    return f"{ident}.{_sign(purpose, f'{ident}.{_secret(subscriber, purpose)}')}"


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
    secret = _secret(subscriber, purpose)
    if not _signed_by_any_key(purpose, f"{ident}.{secret}", signature) or subscriber is None:
        raise TokenInvalid("bad signature")
    if purpose == CONFIRM:
        # Links sent before milliseconds were used carry whole seconds.
        issued_ms = issued if issued >= _MILLISECOND_TOKENS else issued * 1000
        if time.time() - issued_ms / 1000 > CONFIRM_MAX_AGE:
            raise TokenExpired("confirmation link expired")
        # A confirmation sent before the subscriber last left the active state (an
        # unsubscribe, a bounce, a complaint) must not undo that change: only a fresh one
        # counts (and a complained address is never sent one). Within
        # the same millisecond it is refused too (a new link is one click away).
        left = subscriber.status_changed_at
        stopped = subscriber.status in (Status.UNSUBSCRIBED, Status.BOUNCED, Status.COMPLAINED)
        if stopped and left and issued_ms <= int(left.timestamp() * 1000):
            raise TokenInvalid("confirmation link superseded")
    return subscriber


def object_token(subscriber: Subscriber, purpose: str, object_id: int) -> str:
    """A link token for object `object_id` (a digest, a feed) that `subscriber` owns."""
    if purpose not in OBJECT_PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    ident = signing.b62_encode(object_id)
    return f"{ident}.{_sign(purpose, f'{ident}.{subscriber.token_secret}')}"


def object_id_of(token: str, length: int = SIGNATURE_LENGTH) -> int:
    """The id an object token names; not verified yet (see `object_token_check`).
    `length` is the signature's (feedback tokens carry a shorter one)."""
    parts = token.split(".")
    if len(parts) != 2 or len(parts[1]) != length:
        raise TokenInvalid("malformed token")
    try:
        pk = signing.b62_decode(parts[0])
    except ValueError:
        raise TokenInvalid("malformed token") from None
    if pk <= 0 or pk >= 2**63:
        raise TokenInvalid("malformed token")
    return pk


def object_token_check(token: str, purpose: str, owner: Subscriber | None) -> None:
    """Raise TokenInvalid unless `token` was made for its object and this owner."""
    if purpose not in OBJECT_PURPOSES:
        raise ValueError(f"unknown token purpose {purpose!r}")
    object_id_of(token)
    ident, signature = token.split(".")
    secret = owner.token_secret if owner else "-"
    if not _signed_by_any_key(purpose, f"{ident}.{secret}", signature) or owner is None:
        raise TokenInvalid("bad signature")


_url_templates: dict[str, str] = {}


def _absolute(name: str, token: str) -> str:
    template = _url_templates.get(name)
    if template is None:
        # reverse() costs tens of microseconds and the URL only differs in the token. It is
        # built from SITE_URL (which holds any prefix the site is mounted under), never
        # from a request's Host header, which the client controls.
        path = reverse(name, kwargs={"token": "TOKEN"}).removeprefix(get_script_prefix())
        template = _url_templates[name] = settings.SITE_URL + "/" + path.replace("TOKEN", "{}")
    return template.format(token)


@receiver(setting_changed)
def _forget_keys(*, setting, **kwargs):
    # Keys and URLs are prepared once per process; settings only change in tests.
    if setting in ("SECRET_KEY", "SECRET_KEY_FALLBACKS"):
        _signers.clear()
    if setting in ("SITE_URL", "ROOT_URLCONF"):
        _url_templates.clear()


def confirm_url(subscriber: Subscriber) -> str:
    return _absolute("subscribers:confirm", make_token(subscriber, CONFIRM))


def manage_url(subscriber: Subscriber) -> str:
    return _absolute("subscribers:manage", make_token(subscriber, MANAGE))


def unsubscribe_url(subscriber: Subscriber) -> str:
    return _absolute("subscribers:unsubscribe", make_token(subscriber, UNSUBSCRIBE))


def digest_view_url(digest, subscriber: Subscriber) -> str:
    """The browser view of one digest (an alerts.Digest of this subscriber)."""
    return _absolute("digest-view", object_token(subscriber, DIGEST, digest.pk))


def feed_url(subscriber: Subscriber) -> str:
    return _absolute("digest-feed", object_token(subscriber, FEED, subscriber.pk))


def invitation_token(invitation: Invitation) -> str:
    """`<id>.<signature>`, keyed by the invitation's own secret (a deleted invitation's
    link never opens a newer one that got its id)."""
    ident = signing.b62_encode(invitation.pk)
    return f"{ident}.{_sign(INVITATION, f'{ident}.{invitation.secret}')}"


def invitation_from_token(token: str) -> Invitation:
    """The invitation a link names, whatever its state (expired, used up, revoked: the
    caller says which); TokenInvalid for a forged or truncated link or a deleted invitation."""
    pk = object_id_of(token)
    invitation = Invitation.objects.filter(pk=pk).first()
    ident, signature = token.split(".")
    secret = invitation.secret if invitation else "-"
    if not _signed_by_any_key(INVITATION, f"{ident}.{secret}", signature) or invitation is None:
        raise TokenInvalid("bad signature")
    return invitation


def invitation_url(invitation: Invitation) -> str:
    return _absolute("subscribers:invitation", invitation_token(invitation))


def _email_change_message(ident: str, subscriber: Subscriber) -> str:
    return f"{ident}.{subscriber.pending_email.lower()}.{subscriber.token_secret}"


def email_change_token(subscriber: Subscriber, *, timestamp: float | None = None) -> str:
    """`<id>.<issued ms>.<signature>` over the address the subscriber asked to move to:
    a newer request, the change itself or a revocation of links voids it."""
    if not subscriber.pending_email:
        raise ValueError("no address change is pending")
    issued = time.time() if timestamp is None else timestamp
    ident = f"{signing.b62_encode(subscriber.pk)}.{signing.b62_encode(int(issued * 1000))}"
    return f"{ident}.{_sign(EMAIL_CHANGE, _email_change_message(ident, subscriber))}"


def subscriber_from_email_change_token(token: str) -> Subscriber:
    """The subscriber whose pending address change this link confirms (its new address is
    `pending_email`); TokenInvalid or TokenExpired otherwise."""
    parts = token.split(".")
    if len(parts) != 3 or len(parts[-1]) != SIGNATURE_LENGTH:
        raise TokenInvalid("malformed token")
    try:
        pk, issued_ms = signing.b62_decode(parts[0]), signing.b62_decode(parts[1])
    except ValueError:
        raise TokenInvalid("malformed token") from None
    if not 0 < pk < 2**63:
        raise TokenInvalid("malformed token")
    subscriber = Subscriber.objects.filter(pk=pk).first()
    ident = f"{parts[0]}.{parts[1]}"
    message = _email_change_message(ident, subscriber) if subscriber else f"{ident}.-"
    valid = _signed_by_any_key(EMAIL_CHANGE, message, parts[2])
    if not valid or subscriber is None or not subscriber.pending_email:
        raise TokenInvalid("bad signature")
    if time.time() - issued_ms / 1000 > EMAIL_CHANGE_MAX_AGE:
        raise TokenExpired("address change link expired")
    return subscriber


def email_change_url(subscriber: Subscriber) -> str:
    return _absolute("subscribers:email-change", email_change_token(subscriber))


def subscriber_from_feed_token(token: str) -> Subscriber | None:
    """The owner of a feed link, or None for a forged, truncated or revoked link."""
    try:
        subscriber = Subscriber.objects.filter(pk=object_id_of(token)).first()
        object_token_check(token, FEED, subscriber)
    except TokenInvalid:
        return None
    return subscriber


# A feedback token appears three times under every paper of a digest (up to 150 times in
# one email, which must stay under Gmail's clipping size), so its signature is shorter:
# 96 bits, still far beyond guessing online against a rate-limited endpoint.
FEEDBACK_SIGNATURE_LENGTH = 16


def feedback_token(digest, subscriber: Subscriber) -> str:
    """The token of one digest's feedback links, keyed by its owner's token_secret."""
    ident = signing.b62_encode(digest.pk)
    return f"{ident}.{_sign(FEEDBACK, f'{ident}.{subscriber.token_secret}')[:FEEDBACK_SIGNATURE_LENGTH]}"


def feedback_digest_id(token: str) -> int:
    """The digest id a feedback token names; not verified yet (`feedback_token_check`)."""
    return object_id_of(token, FEEDBACK_SIGNATURE_LENGTH)


def feedback_token_check(token: str, owner: Subscriber | None) -> None:
    """Raise TokenInvalid unless `token` was made for its digest and this owner (checked in
    constant time against SECRET_KEY and each fallback key)."""
    feedback_digest_id(token)
    ident, signature = token.split(".")
    message = f"{ident}.{owner.token_secret if owner else '-'}"
    if not _signed_by_any_key(FEEDBACK, message, signature, FEEDBACK_SIGNATURE_LENGTH) or owner is None:
        raise TokenInvalid("bad signature")


def feedback_url(digest, subscriber: Subscriber) -> str:
    """The base of one digest's feedback links, without the trailing slash: a paper's link
    is `<base>/<paper id>/<action>/`. One HMAC per digest, however many papers it shows."""
    return _absolute("feedback-digest", feedback_token(digest, subscriber)).removesuffix("/")


PREVIEW = "preview"


def preview_feedback_url() -> str:
    """The feedback link base of a preview (no digest yet): its links say so when opened."""
    return _absolute("feedback-digest", PREVIEW).removesuffix("/")
