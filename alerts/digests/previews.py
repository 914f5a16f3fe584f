"""Digests shown rather than sent: a subscriber's next digest (preview), a sent digest in
the browser, a test digest sent to an admin, and a sample a subscriber asked for."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import get_connection
from django.urls import get_script_prefix, reverse
from django.utils import timezone

from alerts.core.periods import WEEKLY, current_period, period_for_date, period_length, zone
from alerts.digests import composing
from alerts.digests.composing import Composition, paper_row_of
from alerts.digests.messages import build_message
from alerts.digests.rendering import Links, RenderedDigest, render_digest, render_digest_direct
from alerts.models import Digest, DigestItem, Paper
from subscribers.models import Subscriber
from subscribers.similar import SIMILAR_NAME
from subscribers.tokens import (
    DIGEST,
    TokenInvalid,
    feedback_url,
    manage_url,
    object_id_of,
    object_token_check,
    preview_feedback_url,
    unsubscribe_url,
)


def _links_for_others(*, view_url: str) -> Links:
    """Links for a digest shown to someone who is not the subscriber (an admin's preview
    or test copy): none of them acts for the subscriber; manage and unsubscribe lead to the
    page where the owner of an address gets their own links by email, and "view in your
    browser" to the admin's preview page (`view_url`, behind the admin's login)."""
    resend = f"{settings.SITE_URL}/resend/"
    # A preview is no digest: its feedback links open a page that says so.
    return Links(
        manage_url=resend, unsubscribe_url=resend, view_url=view_url, feedback_url=preview_feedback_url()
    )


@dataclass
class Preview:
    subscriber: Subscriber
    period: dt.date
    composition: Composition
    rendered: RenderedDigest


def preview_page_url(subscriber: Subscriber) -> str:
    """Where a preview is seen in the browser: the admin's preview page of this subscriber.
    A digest not sent yet has no public browser view, and this page needs an admin login."""
    path = reverse("admin:alerts_digest_preview").removeprefix(get_script_prefix())
    return f"{settings.SITE_URL}/{path}?{urlencode({'email': subscriber.email})}"


def digest_preview(
    *,
    subscriber: Subscriber,
    day: dt.date | None = None,
    now: dt.datetime | None = None,
    links: Links | None = None,
) -> Preview:
    """The digest `subscriber` would get if it were sent now (or at the end of local `day`):
    same window, same exclusions, same ranking as the real one; nothing is written."""
    now = now or timezone.now()
    if day is not None:
        period = period_for_date(
            day=day,
            timezone=subscriber.timezone,
            frequency=subscriber.frequency,
            send_hour=subscriber.send_hour,
            week_start=subscriber.week_day,
        )
        end_of_day = dt.datetime.combine(day + dt.timedelta(days=1), dt.time()).replace(
            tzinfo=zone(subscriber.timezone)
        )
        window_end = min(now, end_of_day.astimezone(dt.UTC))
    else:
        period = current_period(
            now=now,
            timezone=subscriber.timezone,
            frequency=subscriber.frequency,
            send_hour=subscriber.send_hour,
            week_start=subscriber.week_day,
        )
        window_end = now
    pidx = composing.build_period_index(window_end)
    specs = composing.filters_of([subscriber.pk]).get(subscriber.pk, [])
    previous = composing.window_starts([subscriber.pk]).get(subscriber.pk)
    if previous is None or previous >= window_end:
        previous = window_end - period_length(subscriber.frequency)
    seeds = composing.seeds_of([subscriber.pk]).get(subscriber.pk)
    composition = composing.compose(
        pidx=pidx,
        filters=specs,
        window_start=composing.clamp_start(previous, window_end),
        excluded=composing.already_sent(pidx, [subscriber.pk]).get(subscriber.pk, 0),
        max_papers=subscriber.max_papers,
        include_trending=subscriber.include_trending,
        personal=composing.personal_of(pidx, [subscriber.pk]).get(subscriber.pk),
        seeds=seeds,
    )
    rendered = render_digest(
        pidx=pidx,
        composition=composition,
        email=subscriber.email,
        filter_names=[s.name for s in specs] + ([SIMILAR_NAME] if seeds else []),
        period=period.start,
        weekly=subscriber.frequency == WEEKLY,
        links=links or _links_for_others(view_url=preview_page_url(subscriber)),
    )
    return Preview(subscriber=subscriber, period=period.start, composition=composition, rendered=rendered)


def digest_for_view(digest: Digest, view_url: str) -> RenderedDigest:
    """A digest as it was sent, rebuilt from its stored items (and extra matches), for the
    browser view."""
    items = list(DigestItem.objects.filter(digest=digest).select_related("paper").order_by("section", "rank"))
    papers = {item.paper_id: item.paper for item in items}
    papers.update(Paper.objects.in_bulk([pid for pid in digest.more_paper_ids if pid not in papers]))
    rows = {pid: (paper_row_of(paper), n) for n, (pid, paper) in enumerate(papers.items())}
    composition = composing.composition_from_items(items, digest.window_start, rows.get, digest.more_matches)
    subscriber = digest.subscriber
    names = list(subscriber.filters.filter(is_active=True).values_list("name", flat=True))
    # Read-only: a browser-view link may be shared or leak (a feed reader, a forwarded
    # email); it shows the papers, never the address or a link that acts for its owner.
    return render_digest_direct(
        composition=composition,
        email="",
        filter_names=names,
        period=digest.period,
        weekly=digest.frequency == WEEKLY,
        links=Links(
            manage_url="",
            unsubscribe_url="",
            view_url=view_url,
            feedback_url=feedback_url(digest, digest.subscriber),
        ),
        list_more=True,
        read_only=True,
    )


def digest_preview_send(*, subscriber: Subscriber, to_email: str) -> str:
    """Send `subscriber`'s next digest, as a preview, to `to_email` (an admin). Returns the
    subject. Nothing is recorded as sent to the subscriber."""
    preview = digest_preview(subscriber=subscriber)
    probe = Digest(pk=0, subscriber=subscriber, period=preview.period, frequency=subscriber.frequency)
    conn = get_connection()
    message = build_message(
        digest=probe,
        subscriber=subscriber,
        rendered=preview.rendered,
        unsubscribe=_links_for_others(view_url="").unsubscribe_url,
        conn=conn,
    )
    # The admin's mail provider must not offer a one-click unsubscribe: it would unsubscribe
    # the admin's address from nothing, or (were the link real) the subscriber.
    del message.extra_headers["List-Unsubscribe"], message.extra_headers["List-Unsubscribe-Post"]
    message.subject = f"[Test] {preview.rendered.subject}"
    message.to = [to_email]
    message.metadata = {"test_digest_for": str(subscriber.pk)}
    message.send()
    return message.subject


SAMPLE_NOTE = (
    "This is a sample of your next digest, sent because you asked for one. It is not your "
    "digest: these papers come again in the next one."
)


_BODY_TAG = re.compile(r"<body\b[^>]*>")
_SAMPLE_NOTE_HTML = (
    '\n<p class="sample-note" style="margin:0;padding:12px 16px;background-color:#fff4d6;color:#3d2c00;'
    f'font-weight:bold;text-align:center">{SAMPLE_NOTE}</p>'
)


def digest_sample_send(*, subscriber: Subscriber, now: dt.datetime | None = None) -> str:
    """Send `subscriber` a sample of their next digest, marked as a sample in its subject
    and body. Nothing is written: no Digest row (the period's digest is created and sent
    as usual) and no items (the papers are no "already sent" ones). Returns the subject."""
    manage = manage_url(subscriber)
    # A sample has no browser view: its links lead to the preferences page, and its
    # feedback links to the page that says a preview takes no votes.
    links = Links(
        manage_url=manage,
        unsubscribe_url=unsubscribe_url(subscriber),
        view_url=manage,
        feedback_url=preview_feedback_url(),
    )
    preview = digest_preview(subscriber=subscriber, now=now, links=links)
    probe = Digest(pk=0, subscriber=subscriber, period=preview.period, frequency=subscriber.frequency)
    rendered = preview.rendered
    # The note opens the body (inline style: many mail clients drop <style>).
    html = _BODY_TAG.sub(lambda m: m.group(0) + _SAMPLE_NOTE_HTML, rendered.html, count=1)
    message = build_message(
        digest=probe,
        subscriber=subscriber,
        rendered=RenderedDigest(
            subject=rendered.subject, text=f"{SAMPLE_NOTE}\n\n{rendered.text}", html=html
        ),
        unsubscribe=links.unsubscribe_url,
        conn=get_connection(),
    )
    message.subject = f"[Sample] {rendered.subject}"
    message.extra_headers["X-Digest-Id"] = "sample"
    message.metadata = {"sample_digest_for": str(subscriber.pk)}
    message.tags = ["sample"]
    message.send()
    return message.subject


def digest_from_token(token: str) -> Digest | None:
    """The digest a view link names, or None for a forged, truncated or revoked link."""
    try:
        digest = Digest.objects.select_related("subscriber").filter(pk=object_id_of(token)).first()
        object_token_check(token, DIGEST, digest.subscriber if digest else None)
    except TokenInvalid:
        return None
    return digest
