from csp.decorators import csp_update
from django.contrib.syndication.views import Feed
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.feedgenerator import Atom1Feed
from django.views.decorators.cache import never_cache

from alerts.digests.previews import digest_for_view, digest_from_token
from alerts.health import health_check
from alerts.models import Digest
from subscribers.tokens import digest_view_url, feedback_url, subscriber_from_feed_token


@never_cache
def healthz(request):
    parts = health_check()
    healthy = all(state == "ok" for state in parts.values())
    failing = [name for name, state in parts.items() if state != "ok"]
    body = {"status": "ok" if healthy else "unavailable", "parts": parts}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=200 if healthy else 503)


# The digest is an email: its styles are inline attributes, which the page's CSP must allow.
# Scripts stay forbidden.
@csp_update({"style-src": ["'unsafe-inline'"]})
def digest_view(request, token: str):
    digest = digest_from_token(token)
    if digest is None or digest.status != Digest.Status.SENT:
        return render(request, "alerts/link_invalid.html", status=404)
    rendered = digest_for_view(digest, view_url=digest_view_url(digest, digest.subscriber))
    response = HttpResponse(rendered.html)
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Cache-Control"] = "private, no-store"
    return response


class DigestFeed(Feed):
    """A subscriber's own Atom feed of their digests, for feed readers."""

    feed_type = Atom1Feed

    def get_object(self, request, token: str):
        subscriber = subscriber_from_feed_token(token)
        if subscriber is None:
            raise Http404("This feed link is not valid.")
        return subscriber

    def title(self, obj):
        return "Your paper digests"

    def subtitle(self, obj):
        return "The digests sent to you, newest first."

    def link(self, obj):
        return "/"

    def items(self, obj):
        return Digest.objects.filter(subscriber=obj, status=Digest.Status.SENT).order_by("-sent_at")[:30]

    def item_title(self, item):
        return item.subject or f"Digest of {item.period:%d %b %Y}"

    def item_description(self, item):
        papers = item.items.order_by("section", "rank").values_list("paper_id", "paper__title")
        base = feedback_url(item, item.subscriber)
        return "\n".join(
            f"- {title}\n  More like this: {base}/{pk}/more/ | Less like this: {base}/{pk}/less/"
            f" | Save: {base}/{pk}/save/"
            for pk, title in papers
        )

    def item_link(self, item):
        return digest_view_url(item, item.subscriber)

    def item_pubdate(self, item):
        return item.sent_at

    def item_updateddate(self, item):
        return item.sent_at
