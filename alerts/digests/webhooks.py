"""ESP feedback: anymail tracking events recorded once, and their effect on subscribers.

Hard bounces and complaints suppress the subscriber; an unsubscribe at the ESP
unsubscribes here too. Each ESP event is stored once (unique per ESP and event id), so an
ESP that delivers a webhook twice changes nothing the second time.
"""

from __future__ import annotations

import hashlib
import logging
import re

from django.db import IntegrityError, transaction

from alerts.digests.messages import digest_message_id
from alerts.models import DeliveryEvent, Digest
from subscribers.models import Subscriber, SubscriberEvent
from subscribers.services import subscriber_suppress, subscription_unsubscribe
from subscribers.tokens import UNSUBSCRIBE, TokenInvalid, subscriber_from_token

log = logging.getLogger(__name__)

# Event types that describe where a message got to; later ones replace earlier ones.
PROGRESS = ["queued", "sent", "deferred", "delivered", "opened", "clicked"]
FINAL = {"bounced", "rejected", "failed", "complained", "unsubscribed"}


def _event_id(event, esp_name: str) -> str:
    if event.event_id:
        return str(event.event_id)[:255]
    # Some ESPs send no id: the event's own facts identify it.
    raw = "|".join(
        str(x) for x in (esp_name, event.message_id, event.event_type, event.timestamp, event.recipient)
    )
    return "sha256:" + hashlib.sha256(raw.encode()).hexdigest()


def _digest_of(event) -> Digest | None:
    digest_id = (event.metadata or {}).get("digest_id")
    if digest_id and str(digest_id).isdigit():
        found = Digest.objects.filter(pk=int(digest_id)).select_related("subscriber").first()
        if found:
            return found
    if event.message_id:
        found = (
            Digest.objects.filter(esp_message_id=str(event.message_id)).select_related("subscriber").first()
        )
        return found or _digest_of_message_id(str(event.message_id))
    return None


OUR_MESSAGE_ID = re.compile(r"<?digest-(\d+)\.\d+@[^>]+>?")


def _digest_of_message_id(message_id: str) -> Digest | None:
    """ESPs that report our own Message-ID header (rather than metadata, or an id of their
    own that we never heard because the answer was lost) still name the digest."""
    found = OUR_MESSAGE_ID.fullmatch(message_id.strip())
    if not found:
        return None
    digest = Digest.objects.filter(pk=int(found.group(1))).select_related("subscriber").first()
    if digest is None or digest_message_id(digest).strip("<>") != message_id.strip().strip("<>"):
        return None
    return digest


# Bounces some ESPs report as "bounced" although the mailbox may accept mail later
# (Postmark's soft bounces): recorded, never a reason to stop sending.
SOFT_BOUNCE_TYPES = {"SoftBounce", "Transient", "DnsError"}


def _is_soft(event) -> bool:
    raw = getattr(event, "esp_event", None)
    return isinstance(raw, dict) and raw.get("Type") in SOFT_BOUNCE_TYPES


def delivery_event_record(*, event, esp_name: str) -> DeliveryEvent | None:
    """Store one anymail tracking event and apply it. Returns None for a repeated event."""
    digest = _digest_of(event)
    subscriber = digest.subscriber if digest else None
    # A digest without a subscriber belongs to someone who was erased: a late event about
    # it is counted, without the address or the ESP's words about it.
    erased = digest is not None and digest.subscriber_id is None
    if subscriber is None and event.recipient and not erased:
        subscriber = Subscriber.objects.by_email(event.recipient).first()
    try:
        with transaction.atomic():
            record = DeliveryEvent.objects.create(
                esp_name=esp_name[:32],
                event_id=_event_id(event, esp_name),
                event_type="deferred" if _is_soft(event) else (event.event_type or "unknown"),
                message_id=str(event.message_id or "")[:255],
                recipient="" if erased else (event.recipient or "")[:254],
                digest=digest,
                subscriber=subscriber,
                occurred_at=event.timestamp,
                reject_reason=event.reject_reason or "",
                description="" if erased else (event.description or event.mta_response or "")[:2000],
            )
            _apply(record, digest, subscriber)
    except IntegrityError:
        log.info("%s event %s seen before; ignored", esp_name, _event_id(event, esp_name))
        return None
    return record


def _apply(record: DeliveryEvent, digest: Digest | None, subscriber: Subscriber | None) -> None:
    kind = record.event_type
    if digest is not None and (kind in FINAL or kind in PROGRESS):
        current = digest.delivery_status
        later = (
            current not in PROGRESS or kind not in PROGRESS or PROGRESS.index(kind) > PROGRESS.index(current)
        )
        if kind in FINAL or later or not current:
            Digest.objects.filter(pk=digest.pk).update(delivery_status=kind)
    if subscriber is None:
        return
    reason = f"{record.esp_name}: {record.event_type}" + (
        f" ({record.description})" if record.description else ""
    )
    if kind == "complained" or (kind == "rejected" and record.reject_reason == "spam"):
        subscriber_suppress(
            subscriber=subscriber,
            status=Subscriber.Status.COMPLAINED,
            reason=reason,
            actor=SubscriberEvent.Actor.ESP,
        )
    elif kind == "bounced" or (kind == "rejected" and record.reject_reason in {"bounced", "invalid"}):
        if subscriber.status != Subscriber.Status.COMPLAINED:
            subscriber_suppress(
                subscriber=subscriber,
                status=Subscriber.Status.BOUNCED,
                reason=reason,
                actor=SubscriberEvent.Actor.ESP,
            )
    elif (kind == "unsubscribed" or (kind == "rejected" and record.reject_reason == "unsubscribed")) and (
        subscriber.status == Subscriber.Status.ACTIVE
    ):
        subscription_unsubscribe(subscriber=subscriber, actor=SubscriberEvent.Actor.ESP, reason=reason)


# "unsubscribe <token>" in the subject of a mail sent to the List-Unsubscribe mailto.
# The token's signature is URL-safe base64: it may end in "-", after which \b never matches.
UNSUBSCRIBE_SUBJECT = re.compile(
    r"\bunsubscribe\s+([0-9A-Za-z]+\.[0-9A-Za-z_-]{27})(?![0-9A-Za-z_-])", re.IGNORECASE
)


def inbound_unsubscribe(*, subject: str) -> Subscriber | None:
    """Unsubscribe whoever an inbound mail's subject names with a valid unsubscribe token.

    The token is what makes it safe: anyone can write to the address, nobody can forge it.
    Returns the subscriber, or None when the mail is not a valid unsubscribe request.
    """
    found = UNSUBSCRIBE_SUBJECT.search(subject or "")
    if not found:
        return None
    try:
        subscriber = subscriber_from_token(found.group(1), UNSUBSCRIBE)
    except TokenInvalid:
        log.info("inbound unsubscribe with an invalid token ignored")
        return None
    subscription_unsubscribe(
        subscriber=subscriber,
        actor=SubscriberEvent.Actor.SUBSCRIBER,
        reason="asked by email (List-Unsubscribe mailto)",
    )
    return subscriber
