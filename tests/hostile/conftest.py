"""Fixtures and checks of the hostile-input tests."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.core.cache import cache

INPUTS = Path(__file__).resolve().parent / "inputs"
SITE = "https://alerts.example.org"
WEBHOOK_SECRET = "hook:s3cret-webhook-password"


def cases(name: str) -> list[dict]:
    """The cases of a JSON file of inputs/ (its "_" entry says what they are)."""
    return json.loads((INPUTS / name).read_text())["cases"]


def case_ids(items: list[dict]) -> list[str]:
    return [item["name"] for item in items]


@pytest.fixture(autouse=True)
def clean_site(settings):
    """Rate-limit counters start at zero; links are built for a known site; a digest that
    fails is retried at once (a test fails in seconds, not minutes)."""
    settings.SITE_URL = SITE
    settings.DIGEST_RETRY_BASE = 0.05
    settings.DIGEST_RETRY_MAX = 0.2
    cache.clear()
    yield
    cache.clear()


def local(url: str) -> str:
    return url.removeprefix(SITE)


class _Markup(HTMLParser):
    """Every tag and attribute a browser would see in a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {name: value or "" for name, value in attrs}))


def assert_no_active_markup(html: str, *, site: str = SITE) -> None:
    """What an HTML page or email may contain whatever text it shows: scripts only from
    files, no event-handler attributes, no javascript: or data: links, no form that posts
    anywhere but here."""
    parser = _Markup()
    parser.feed(html)
    parser.close()
    for tag, attrs in parser.tags:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        if tag == "script":
            assert attrs.get("src"), "an inline script"
        for name in ("href", "src", "action", "formaction"):
            value = attrs.get(name, "").strip().lower()
            assert not value.startswith(("javascript:", "data:text", "vbscript:")), (tag, attrs)
        if tag == "form":
            assert not attrs.get("action", "").startswith("http") or attrs["action"].startswith(site), attrs


def assert_csp_forbids_inline_scripts(response) -> None:
    policy = dict(
        [*directive.split(" ", 1), ""][:2] for directive in response["Content-Security-Policy"].split("; ")
    )
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"


def post_tracking_event(client, payload: dict, authorization: str | None = "secret"):
    """POST a Postmark tracking event as the ESP does (with the webhook secret), or with
    another Authorization header (None: none at all)."""
    if authorization == "secret":
        authorization = "Basic " + base64.b64encode(WEBHOOK_SECRET.encode()).decode()
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    return client.post(
        "/anymail/postmark/tracking/", json.dumps(payload), content_type="application/json", **headers
    )


def subscribe_by_service(email: str, name: str = "Graphs", query: str = "ti:graph"):
    """A sign-up through the service alone, as an import of addresses would make it."""
    from subscribers import services
    from subscribers.rules import FilterInput

    return services.subscription_create(
        email=email,
        filters=[FilterInput(name=name, query=query)],
        timezone="UTC",
        send_hour=7,
        frequency="daily",
        max_papers=20,
        include_trending=False,
    )
