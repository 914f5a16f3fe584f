"""Per-IP rate limits on sign-up, re-send and preview: a clear 429 once over the limit.

The limits count in windows of the rate's period; the tests use a day so that no window
boundary falls inside a test.
"""

import pytest
from django.core import checks

from subscribers import tokens
from subscribers.models import SubscriberEvent
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


# Behind the proxy ---------------------------------------------------------------------
# Every request reaches the service from the proxy (REMOTE_ADDR 127.0.0.1), which appends
# the address it got the request from to X-Forwarded-For.
PROXY = "127.0.0.1"


def through_proxy(client, email: str, client_address: str, sent_by_client: str = ""):
    forwarded = f"{sent_by_client}, {client_address}" if sent_by_client else client_address
    return client.post("/", signup_data(email), REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)


def test_behind_the_proxy_each_client_has_its_own_limit_whatever_it_forges(client, settings):
    settings.TRUSTED_PROXIES = 1
    settings.RATE_LIMIT_SIGNUP = "2/d"
    statuses = [through_proxy(client, f"a{i}@example.org", "198.51.100.7").status_code for i in range(2)]
    assert statuses == [200, 200]
    assert through_proxy(client, "a2@example.org", "198.51.100.7").status_code == 429
    # Entries the client writes before the proxy's own change nothing.
    for forged in ("203.0.113.99", "10.0.0.1, 203.0.113.98", "not-an-address"):
        assert through_proxy(client, "a3@example.org", "198.51.100.7", forged).status_code == 429
    # Another client behind the same proxy is not limited by the first one.
    assert through_proxy(client, "b@example.org", "198.51.100.8").status_code == 200
    # The audit trail records the client, not the proxy.
    event = SubscriberEvent.objects.get(subscriber__email="b@example.org", kind="created")
    assert event.detail["ip"] == "198.51.100.8"


def test_without_a_proxy_a_forged_forwarded_header_is_ignored(client, settings):
    settings.TRUSTED_PROXIES = 0
    settings.RATE_LIMIT_SIGNUP = "2/d"
    statuses = [
        client.post(
            "/",
            signup_data(f"c{i}@example.org"),
            REMOTE_ADDR="203.0.113.5",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}",
        ).status_code
        for i in range(3)
    ]
    assert statuses == [200, 200, 429]
    event = SubscriberEvent.objects.filter(kind="created").first()
    assert event.detail["ip"] == "203.0.113.5"


def test_behind_two_proxies_the_client_is_the_entry_the_outer_one_wrote(client, settings):
    settings.TRUSTED_PROXIES = 2
    settings.RATE_LIMIT_SIGNUP = "1/d"
    cdn = "192.0.2.10"
    first = client.post(
        "/", signup_data("d@example.org"), REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"198.51.100.9, {cdn}"
    )
    forged = client.post(
        "/",
        signup_data("e@example.org"),
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR=f"203.0.113.1, 198.51.100.9, {cdn}",
    )
    other = client.post(
        "/", signup_data("f@example.org"), REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=f"198.51.100.10, {cdn}"
    )
    assert (first.status_code, forged.status_code, other.status_code) == (200, 429, 200)


def test_a_process_local_cache_is_reported_by_a_system_check(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    (warning,) = [m for m in checks.run_checks() if m.id == "subscribers.W001"]
    assert "each process's own memory" in warning.msg
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "x"}}
    assert [m for m in checks.run_checks() if m.id == "subscribers.W001"] == []


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
