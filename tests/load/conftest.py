"""The load test's own Redis: it leaves hundreds of queued confirmation emails behind,
which no later test's worker should have to get through."""

import pytest

from tests.conftest import running_redis


@pytest.fixture
def redis_server():
    yield from running_redis()
