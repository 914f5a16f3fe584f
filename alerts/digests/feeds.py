"""A subscriber's Atom feed: one entry per paper they were sent, newest digest first, and the
version a feed reader's poll is compared with (ETag, Last-Modified) so most polls answer 304."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Count, Max
from django.template.loader import render_to_string

from alerts.digests.rendering import safe_url
from alerts.models import Digest, DigestItem
from subscribers.models import Subscriber
from subscribers.tokens import feedback_url

# Two full digests of 50 papers: a reader polling daily never misses an entry.
FEED_ENTRIES = 100
# Part of every ETag: bump it when an entry's markup changes, so readers fetch it again.
FEED_FORMAT = "2"


@dataclass(frozen=True)
class FeedVersion:
    etag: str  # quoted, as it travels in the header
    last_modified: dt.datetime | None  # the latest sent digest; None before the first


def feed_items(*, subscriber: Subscriber, limit: int = FEED_ENTRIES) -> list[DigestItem]:
    """The papers of the subscriber's sent digests, newest digest first, in the digest's order."""
    return list(
        DigestItem.objects.filter(
            digest__subscriber=subscriber,
            digest__status=Digest.Status.SENT,
            # Not the matches past max_papers: the email only counted them.
            section__in=(DigestItem.Section.MATCHED, DigestItem.Section.TRENDING, DigestItem.Section.SIMILAR),
        )
        .select_related("paper", "digest", "digest__subscriber")
        .order_by("-digest__sent_at", "-digest_id", "section", "rank")[:limit]
    )


def feed_version(*, subscriber: Subscriber) -> FeedVersion:
    """What the feed's entries depend on, in one aggregate query: the sent digests. An entry
    changes only when a digest is sent (or pruned); a paper's later upvotes do not renew it,
    so a reader's hourly poll stays a 304 between digests."""
    sent = Digest.objects.filter(subscriber=subscriber, status=Digest.Status.SENT).aggregate(
        count=Count("id"), last=Max("sent_at"), newest=Max("id")
    )
    last = sent["last"]
    parts = (FEED_FORMAT, subscriber.pk, sent["count"], sent["newest"], last.isoformat() if last else "")
    stamp = ":".join(map(str, parts))
    return FeedVersion(etag=f'"{hashlib.sha256(stamp.encode()).hexdigest()[:32]}"', last_modified=last)


def _tag_authority() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def feed_id(subscriber: Subscriber) -> str:
    """A feed id that outlives its link: the link's token changes when the subscriber signs
    out everywhere, the feed (for the reader) does not (RFC 4151 tag URI)."""
    return f"tag:{_tag_authority()},2024:feed/{subscriber.pk}"


def entry_id(item: DigestItem) -> str:
    """One id per paper sent in a digest, stable across polls and link changes."""
    return f"tag:{_tag_authority()},{item.digest.period:%Y-%m-%d}:digest-item/{item.pk}"


def entry_links(item: DigestItem) -> tuple[str, str]:
    """The paper's page and its PDF, only when they are http(s) links (a source's feed may
    carry anything); the site itself when the paper has no page of its own."""
    paper = item.paper
    pdf_url = safe_url(paper.pdf_url)
    return safe_url(paper.abs_url) or pdf_url or settings.SITE_URL + "/", pdf_url


def entry_content(item: DigestItem) -> str:
    """The entry's HTML (escaped by the template: paper text is untrusted): why it is there,
    the authors, the abstract and the links."""
    paper = item.paper
    _, pdf_url = entry_links(item)
    return render_to_string(
        "alerts/feed_entry.html",
        {
            "paper": paper,
            "trending": item.section == DigestItem.Section.TRENDING,
            "similar": item.section == DigestItem.Section.SIMILAR,
            "filters": item.filters,
            "authors": ", ".join(paper.authors),
            "abs_url": safe_url(paper.abs_url),
            "pdf_url": pdf_url,
            "feedback_url": feedback_url(item.digest, item.digest.subscriber),
        },
    ).strip()
