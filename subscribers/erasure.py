"""What the digest pipeline keeps about a person, erased with them (a GDPR request).

Their digests, items and delivery events stay, so that the counts (digests sent, papers
sent, bounces) stay true; what identifies them or what they wrote goes: the address in
ESP events and error messages, their filter names (in subjects, items and extra matches),
their votes and saved papers.

The ESP's message ids stay: random ids only the ESP can tie to an address (the person is
to be erased there too), by which a late webhook event about one of these digests is
recognised and stored without the address (alerts.digests.webhooks).
"""

from __future__ import annotations

from django.db.models import Q
from django.db.models.functions import Lower

from alerts.models import DeliveryEvent, Digest, DigestItem
from subscribers.models import Subscriber, Vote


def subscriber_traces_erase(*, subscriber: Subscriber) -> None:
    """Call inside the transaction that deletes `subscriber`, before the delete."""
    # Their votes and saved papers (and so what a personal model learns from) go first.
    Vote.objects.filter(subscriber=subscriber).delete()
    digests = Digest.objects.filter(subscriber=subscriber)
    DigestItem.objects.filter(digest__in=digests).update(filters=[], terms=[])
    DeliveryEvent.objects.alias(recipient_ci=Lower("recipient")).filter(
        Q(subscriber=subscriber) | Q(digest__in=digests) | Q(recipient_ci=subscriber.email.lower())
    ).update(recipient="", description="", subscriber=None)
    # The extra matches keep their papers and scores, not the filter names and terms.
    kept = []
    for digest in digests.exclude(more_matches={}).only("pk", "more_matches"):
        digest.more_matches_erase()
        kept.append(digest)
    Digest.objects.bulk_update(kept, ["more_matches"], batch_size=500)
    digests.update(subject="", last_error="")
