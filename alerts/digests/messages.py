"""A digest as an email: its signed links, its rendering and the message with its headers
(List-Unsubscribe with RFC 8058 one-click, List-Id, one Message-ID per digest)."""

from __future__ import annotations

from email.utils import make_msgid, parseaddr
from functools import lru_cache
from urllib.parse import quote, urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from alerts.core.periods import WEEKLY
from alerts.digests.composing import Prepared
from alerts.digests.rendering import Links, RenderedDigest, render_digest
from alerts.models import Digest
from subscribers.models import Subscriber
from subscribers.tokens import digest_view_url, feedback_url, manage_url, unsubscribe_url


def _site_host() -> str:
    return _host_of(settings.SITE_URL)


@lru_cache(maxsize=8)
def _host_of(url: str) -> str:
    return urlsplit(url).hostname or "localhost"


@lru_cache(maxsize=8)
def _mailbox_of(address: str) -> str:
    return parseaddr(address)[1]


def digest_links(digest: Digest, subscriber: Subscriber) -> Links:
    """The signed links of one digest: manage, unsubscribe, view in the browser, and the
    base of its feedback links."""
    return Links(
        manage_url=manage_url(subscriber),
        unsubscribe_url=unsubscribe_url(subscriber),
        view_url=digest_view_url(digest, subscriber),
        feedback_url=feedback_url(digest, subscriber),
    )


def render(p: Prepared, links: Links) -> RenderedDigest:
    return render_digest(
        pidx=p.pidx,
        composition=p.composition,
        email=p.subscriber.email,
        filter_names=p.filter_names,
        period=p.digest.period,
        weekly=p.digest.frequency == WEEKLY,
        links=links,
    )


def list_unsubscribe(unsubscribe: str) -> str:
    """RFC 2369's List-Unsubscribe: the one-click https link (RFC 8058) and a mailto whose
    subject carries the same signed token, for clients that only send mail
    (alerts.digests.webhooks.inbound_unsubscribe reads it from the ESP's inbound webhook)."""
    mailto = settings.UNSUBSCRIBE_MAILTO or _mailbox_of(settings.DEFAULT_FROM_EMAIL)
    token = unsubscribe.rstrip("/").rsplit("/", 1)[-1]
    return f"<{unsubscribe}>, <mailto:{mailto}?subject={quote('unsubscribe ' + token)}>"


def digest_message_id(digest: Digest) -> str:
    """The digest's Message-ID, the same for every attempt: a message sent again after its
    first hand-off had an unknown outcome is the same message, and a reader's mail client
    that got both may show one. Unique per digest row (its id and creation instant)."""
    if digest.created_at is None:  # not a stored digest (an admin's preview): a fresh id
        return make_msgid("digest-preview", domain=_site_host())
    stamp = int(digest.created_at.timestamp() * 1_000_000)
    return f"<digest-{digest.pk}.{stamp}@{_site_host()}>"


def resend_message_id(digest: Digest, resend_id: int) -> str:
    """The Message-ID of an admin's re-send of `digest`: a new one (the re-send is a second
    message, on purpose, not a copy a mail client should fold into the first), still naming
    the digest so that the ESP's events about it are found."""
    stamp = int(digest.created_at.timestamp() * 1_000_000)
    return f"<digest-{digest.pk}.{stamp}.resend-{resend_id}@{_site_host()}>"


def build_message(
    *,
    digest: Digest,
    subscriber: Subscriber,
    rendered: RenderedDigest,
    unsubscribe: str,
    conn,
    message_id: str = "",
) -> EmailMultiAlternatives:
    """The digest's message; `message_id` replaces the digest's own (a re-send)."""
    host = _site_host()
    message = EmailMultiAlternatives(
        subject=rendered.subject,
        body=rendered.text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[subscriber.email],
        connection=conn,
        headers={
            "Message-ID": message_id or digest_message_id(digest),
            "List-Unsubscribe": list_unsubscribe(unsubscribe),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "List-Id": f"{settings.SITE_NAME} digest <digest.{host}>",
            "Auto-Submitted": "auto-generated",
            "X-Digest-Id": str(digest.pk),
        },
    )
    message.attach_alternative(rendered.html, "text/html")
    # anymail: the digest id comes back in the ESP's webhook events; other backends ignore it.
    message.metadata = {"digest_id": str(digest.pk)}
    message.tags = ["digest"]
    message.track_clicks = False
    if settings.DIGEST_ESP_EXTRA:
        message.esp_extra = settings.DIGEST_ESP_EXTRA
    return message


def message_id_of(message: EmailMultiAlternatives) -> str:
    status = getattr(message, "anymail_status", None)
    if status is not None and status.message_id:
        return str(status.message_id)
    return message.extra_headers["Message-ID"].strip("<>")
