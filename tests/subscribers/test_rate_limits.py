"""Per-IP rate limits on sign-up, re-send and preview: a clear 429 once over the limit.

The limits count in windows of the rate's period; the tests use a day so that no window
boundary falls inside a test.
"""

import pytest

from subscribers import tokens
from tests.factories import SubscriberFactory
from tests.subscribers.helpers import preferences_data, signup_data

pytestmark = pytest.mark.django_db


def test_sign_up_is_limited_per_client_ip(client, settings):
    settings.RATE_LIMIT_SIGNUP = "3/d"
    statuses = [
        client.post("/", signup_data(f"reader{i}@example.org"), REMOTE_ADDR="203.0.113.1").status_code
        for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    limited = client.post("/", signup_data("late@example.org"), REMOTE_ADDR="203.0.113.1")
    assert limited.status_code == 429
    assert "Too many requests came from your network" in limited.text
    assert 0 < int(limited["Retry-After"]) <= 86400
    # Another client is not affected; showing the form is never limited.
    assert client.post("/", signup_data("other@example.org"), REMOTE_ADDR="203.0.113.2").status_code == 200
    assert client.get("/", REMOTE_ADDR="203.0.113.1").status_code == 200


def test_the_limit_follows_the_configured_client_ip_header(client, settings):
    settings.RATE_LIMIT_SIGNUP = "1/d"
    settings.RATELIMIT_IP_META_KEY = "HTTP_X_REAL_IP"
    first = client.post("/", signup_data("a@example.org"), HTTP_X_REAL_IP="198.51.100.1")
    second = client.post("/", signup_data("b@example.org"), HTTP_X_REAL_IP="198.51.100.2")
    third = client.post("/", signup_data("c@example.org"), HTTP_X_REAL_IP="198.51.100.1")
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)


def test_resend_is_limited_per_client_ip(client, settings):
    settings.RATE_LIMIT_RESEND = "2/d"
    statuses = [client.post("/resend/", {"email": f"r{i}@example.org"}).status_code for i in range(3)]
    assert statuses == [200, 200, 429]


def test_preview_is_limited_per_client_ip_with_a_fragment(client, settings):
    settings.RATE_LIMIT_PREVIEW = "0/d"
    response = client.get("/preview/", {"q": "ti:graph"})
    assert response.status_code == 429
    assert response.text.startswith('<p class="rate-limited" role="alert">')
    assert "Retry-After" in response


def test_each_filter_previewed_counts_against_the_preview_limit(client, settings):
    # Ten previews in one press of the button cost ten live previews, not one.
    settings.RATE_LIMIT_PREVIEW = "12/d"
    filters = [(f"Filter {i}", f"ti:graph{i}") for i in range(10)]
    first = client.post("/", signup_data(filters=filters, action="preview"), REMOTE_ADDR="203.0.113.7")
    assert first.status_code == 200
    assert first.text.count("papers matched") + first.text.count("No paper matched") >= 1
    # Two left: two live previews, then the limit.
    statuses = [
        client.get("/preview/", {"q": "ti:graph"}, REMOTE_ADDR="203.0.113.7").status_code for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    # Empty rows cost nothing; "add another filter" costs one.
    again = client.post("/", signup_data(filters=filters, action="preview"), REMOTE_ADDR="203.0.113.8")
    assert again.status_code == 200
    more = signup_data(filters=[("One", "ti:graph"), ("", "")], action="add_filter")
    assert client.post("/", more, REMOTE_ADDR="203.0.113.8").status_code == 200
    assert client.post("/", more, REMOTE_ADDR="203.0.113.8").status_code == 200
    assert client.post("/", more, REMOTE_ADDR="203.0.113.8").status_code == 429


def test_previews_on_the_manage_page_count_each_filter_too(client, settings, site_url):
    settings.RATE_LIMIT_PREVIEW = "5/d"
    path = tokens.manage_url(SubscriberFactory()).removeprefix(site_url)
    data = {**preferences_data([(f"F{i}", f"ti:graph{i}") for i in range(5)]), "action": "preview"}
    assert client.post(path, data).status_code == 200
    assert client.post(path, data).status_code == 429
