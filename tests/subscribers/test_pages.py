"""Every subscriber page: readable on a phone, and nothing the Content-Security-Policy
would block (no inline script, no inline style, nothing from another origin)."""

import re

import pytest

from subscribers import tokens
from tests.factories import SubscriberFactory
from tests.subscribers.helpers import signup_data

pytestmark = pytest.mark.django_db


def pages(client):
    subscriber = SubscriberFactory()
    pending = SubscriberFactory(status="pending")

    def path(url):
        return url.removeprefix("https://alerts.example.org")

    yield "sign-up", client.get("/")
    yield "sign-up with errors", client.post("/", signup_data(email="nope"))
    yield "check your inbox", client.post("/", signup_data())
    yield "resend", client.get("/resend/")
    yield "confirm", client.get(path(tokens.confirm_url(pending)))
    yield "confirmed", client.post(path(tokens.confirm_url(pending)))
    yield "bad link", client.get("/confirm/x.y.z/")
    yield "manage", client.get(path(tokens.manage_url(subscriber)))
    yield "unsubscribe", client.get(path(tokens.unsubscribe_url(subscriber)))
    yield "unsubscribed", client.post(path(tokens.unsubscribe_url(subscriber)))


def test_pages_need_no_inline_code_and_fit_a_phone(client):
    for name, response in pages(client):
        html = response.text
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp, name
        assert "'unsafe-inline'" not in csp, name
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html, name
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert re.search(r'\ssrc="/static/[^"]+"', tag), (name, tag)
        assert not re.search(r"<style\b|\sstyle=", html), name
        assert not re.search(r'\s(on[a-z]+)="', html), name  # no inline event handlers
        assert not re.search(r'(src|href)="(https?:)?//(?!alerts\.example\.org)', html), name
        assert '<html lang="en">' in html, name


def test_static_files_exist(client):
    from django.contrib.staticfiles import finders

    for name in ("css/site.css", "js/subscription-form.js", "subscribers/admin.css"):
        assert finders.find(name), name
