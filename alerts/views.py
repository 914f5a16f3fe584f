import logging
import secrets

from csp.decorators import csp_update
from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.cache import get_conditional_response
from django.utils.feedgenerator import Atom1Feed
from django.utils.http import http_date
from django.views.decorators.cache import never_cache

from alerts.digests.feeds import entry_content, entry_id, entry_links, feed_id, feed_items, feed_version
from alerts.digests.previews import digest_for_view, digest_from_token
from alerts.health import health_check
from alerts.metrics import metrics_text
from alerts.models import Digest, DigestItem
from subscribers.tokens import digest_view_url, subscriber_from_feed_token

logger = logging.getLogger(__name__)
_metrics_off_logged = False


@never_cache
def healthz(request):
    parts = health_check()
    healthy = all(state == "ok" for state in parts.values())
    failing = [name for name, state in parts.items() if state != "ok"]
    body = {"status": "ok" if healthy else "unavailable", "parts": parts}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=200 if healthy else 503)


def _bearer_token(request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@never_cache
def metrics(request):
    """Prometheus scrape. With METRICS_TOKEN set, only a request bearing it is answered; without
    one, only a DEBUG (local) site answers, and production says in its log how to switch it on."""
    global _metrics_off_logged
    token = settings.METRICS_TOKEN
    if not token:
        if not settings.DEBUG:
            if not _metrics_off_logged:
                logger.warning("/metrics answers 404: set METRICS_TOKEN to serve Prometheus metrics")
                _metrics_off_logged = True
            raise Http404("metrics are off")
    elif not secrets.compare_digest(_bearer_token(request).encode(), token.encode()):
        logger.warning("/metrics refused a request without the right bearer token")
        response = HttpResponse("a bearer token (METRICS_TOKEN) is required\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_text(), content_type="text/plain; version=0.0.4; charset=utf-8")


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


class PaperAtomFeed(Atom1Feed):
    """Atom with what Django's writer leaves out: every author of a paper, its PDF, the
    abstract as plain text and the entry's HTML as content."""

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, item)
        for name in item["authors"]:
            handler.startElement("author", {})
            handler.addQuickElement("name", name)
            handler.endElement("author")
        if item["pdf_url"]:
            pdf = {"rel": "related", "type": "application/pdf", "title": "PDF", "href": item["pdf_url"]}
            handler.addQuickElement("link", "", pdf)
        if item["abstract"]:
            handler.addQuickElement("summary", item["abstract"], {"type": "text"})
        handler.addQuickElement("content", item["content"], {"type": "html"})


class DigestFeed(Feed):
    """A subscriber's own Atom feed: one entry per paper they were sent. Read-only (the
    link may sit in a shared reader), and answered with 304 while nothing was sent since
    the reader's last poll (ETag / Last-Modified)."""

    feed_type = PaperAtomFeed

    def __call__(self, request, *args, **kwargs):
        subscriber = self.get_object(request, *args, **kwargs)
        version = feed_version(subscriber=subscriber)
        stamp = int(version.last_modified.timestamp()) if version.last_modified else None
        response = get_conditional_response(request, etag=version.etag, last_modified=stamp)
        if response is None:
            response = super().__call__(request, *args, **kwargs)
        response.headers["ETag"] = version.etag
        if stamp is not None:
            response.headers["Last-Modified"] = http_date(stamp)
        else:  # nothing sent yet: Django's "now" would claim a change at every poll
            response.headers.pop("Last-Modified", None)
        # Personal: no shared cache keeps it; a reader revalidates, and mostly gets a 304.
        response.headers["Cache-Control"] = "private, no-cache"
        return response

    def get_object(self, request, token: str):
        subscriber = subscriber_from_feed_token(token)
        if subscriber is None:
            raise Http404("This feed link is not valid.")
        return subscriber

    def title(self, obj):
        return f"{settings.SITE_NAME}: your papers"

    def subtitle(self, obj):
        return "Every paper your digests brought you, newest first."

    def link(self, obj):
        return settings.SITE_URL + "/"

    def feed_guid(self, obj):
        return feed_id(obj)

    def author_name(self, obj):
        return settings.SITE_NAME

    def items(self, obj):
        return feed_items(subscriber=obj)

    def item_title(self, item):
        return " ".join(item.paper.title.split())

    def item_description(self, item):
        return None  # the summary is written as text by PaperAtomFeed (Django's is HTML)

    def item_link(self, item):
        return entry_links(item)[0]

    def item_guid(self, item):
        return entry_id(item)

    def item_pubdate(self, item):
        return item.paper.published or item.digest.sent_at

    def item_updateddate(self, item):
        return item.digest.sent_at

    def item_categories(self, item):
        return item.filters if item.section == DigestItem.Section.MATCHED else ["Trending"]

    def item_extra_kwargs(self, item):
        return {
            "authors": item.paper.authors,
            "pdf_url": entry_links(item)[1],
            "abstract": " ".join(item.paper.abstract.split()),
            "content": entry_content(item),
        }
