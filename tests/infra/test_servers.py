"""The real servers the suite relies on start and answer (a failure here explains the rest)."""

import pytest
import redis
from django.db import connection

from tests.servers import in_ci


@pytest.mark.django_db
def test_database_is_postgresql_in_ci():
    if in_ci():
        assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)


def test_redis_answers(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    assert client.ping()
    client.set("k", "v")
    assert client.get("k") == b"v"


def test_chromium_renders_a_page(browser):
    page = browser.new_page()
    page.set_content("<p id='x'>hello</p>")
    assert page.inner_text("#x") == "hello"
    page.close()
