"""Links between admin pages: a subscriber's or a digest's page to the preview page, where
the subscriber's next digest is shown and a test copy can be sent."""

from __future__ import annotations

from urllib.parse import urlencode

from django.urls import reverse
from django.utils.html import format_html


def preview_link(subscriber) -> str:
    """A link to the preview page of this subscriber (a `subscribers.Subscriber`, or None)."""
    if subscriber is None:
        return "-"
    url = reverse("admin:alerts_digest_preview") + "?" + urlencode({"email": subscriber.email})
    return format_html('<a href="{}">Preview the next digest, or send yourself a test copy</a>', url)
