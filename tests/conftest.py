"""Fixtures shared by the whole suite: real servers, the test database, a browser.

PostgreSQL is used whenever it is installed (always in CI); SQLite otherwise, or when
TEST_DATABASE=sqlite. A test that needs Redis, PostgreSQL, a Celery worker or Chromium
runs against the real thing; if it is missing the test is skipped on a laptop and fails in
CI, where `.ci/run` installs everything.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from tests import servers

ARTIFACTS = servers.ROOT / "data" / "test-artifacts"


def require(condition: bool, reason: str) -> None:
    """Skip locally, fail in CI: nothing the suite needs may be silently missing there."""
    if condition:
        return
    if servers.in_ci():
        pytest.fail(f"{reason} (CI must provide it)", pytrace=False)
    pytest.skip(reason)


# Database -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server():
    if os.environ.get("TEST_DATABASE", "").lower() == "sqlite":
        require(not servers.in_ci(), "TEST_DATABASE=sqlite is not allowed in CI")
        yield None
        return
    try:
        server = servers.start_postgres()
    except servers.ServerUnavailable as exc:
        require(False, str(exc))
        yield None  # local run without PostgreSQL: SQLite
        return
    yield server
    server.stop()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, postgres_server):
    """Point the default database at the private PostgreSQL server before the test DB is made.

    The settings dict is updated in place: Django's connection objects share it.
    """
    if postgres_server is None:
        return
    from django.conf import settings

    db = settings.DATABASES["default"]
    db.update(
        ENGINE="django.db.backends.postgresql",
        NAME="paper_alerts",
        USER=postgres_server.user,
        PASSWORD="",
        HOST="127.0.0.1",
        PORT=str(postgres_server.port),
        OPTIONS={},
        CONN_MAX_AGE=0,
        CONN_HEALTH_CHECKS=False,
    )
    db.setdefault("TEST", {})["NAME"] = "test_paper_alerts"
    # A connection object made before this point wraps the old engine: drop it, and the
    # next use builds one from the updated settings.
    from django.db import connections

    connections["default"].close()
    del connections["default"]


@pytest.fixture
def database_url(django_db_setup) -> str:
    """DATABASE_URL of the test database, for processes the test starts (worker, gunicorn)."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(s['NAME']).resolve()}"
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


@pytest.fixture
def uses_postgres() -> bool:
    from django.db import connection

    return connection.vendor == "postgresql"


# Redis and Celery ---------------------------------------------------------------------


def running_redis():
    """Start a private Redis for as long as the caller (a fixture) lasts."""
    try:
        server = servers.start_redis()
    except servers.ServerUnavailable as exc:
        require(False, str(exc))
        return
    yield server
    server.stop()
    shutil.rmtree(server.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server():
    yield from running_redis()


@pytest.fixture
def outbox_dir(settings, tmp_path) -> Path:
    """A private local outbox shared with the worker processes a test starts."""
    directory = tmp_path / "outbox"
    directory.mkdir()
    settings.EMAIL_OUTBOX_DIR = directory
    return directory


@pytest.fixture
def subprocess_env(database_url, redis_server, outbox_dir, tmp_path) -> dict[str, str]:
    """Environment for a process that must share this test's database, broker and outbox."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings.test",
        DATABASE_URL=database_url,
        REDIS_URL=redis_server.url,
        DJANGO_EMAIL_BACKEND="alerts.outbox.OutboxEmailBackend",
        EMAIL_OUTBOX_DIR=str(outbox_dir),
        DATA_DIR=str(tmp_path / "data"),
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def celery_on_redis(redis_server, settings):
    """Make this process's Celery app queue real messages on the test Redis."""
    from config.celery import app

    saved = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=redis_server.url, task_always_eager=False)
    settings.CELERY_BROKER_URL = redis_server.url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    app._pool = None
    app.amqp._producer_pool = None
    yield app
    # app.pool is kombu's process-wide pool for the broker URL, which the next test reuses:
    # closing it alone would leave that test a closed pool. reset() closes and forgets them.
    import kombu.pools

    kombu.pools.reset()
    app._pool = None
    app.amqp._producer_pool = None
    app.conf.update(saved)


@pytest.fixture
def celery_workers(subprocess_env, celery_on_redis):
    """Start real Celery worker processes: `start(name, concurrency=1, **env)`."""
    started: list[servers.CeleryWorker] = []

    def start(name: str = "worker1", concurrency: int = 1, **extra_env: str) -> servers.CeleryWorker:
        env = {**subprocess_env, **{k: str(v) for k, v in extra_env.items()}}
        worker = servers.CeleryWorker(env=env, name=name, concurrency=concurrency)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.stop()
        worker.log.unlink(missing_ok=True)


def broker_busy(redis_url: str) -> int:
    """Task messages on the broker: queued, or taken by a worker and not yet acknowledged
    (tasks run with acks_late, so a running task, or one waiting for its retry countdown,
    stays in kombu's `unacked` hash until it finishes)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        queued = sum(client.llen(key) for key in client.scan_iter("celery*") if client.type(key) == b"list")
        return queued + client.hlen("unacked")
    finally:
        client.close()


def redeliver_abandoned(redis_url: str, visibility_timeout: float) -> int:
    """Do now what the broker does within a couple of minutes: put task messages taken by a
    worker that died (unacknowledged for longer than `visibility_timeout`) back on their
    queue, through kombu's own restore. Returns how many are still waiting to be restored."""
    from kombu import Connection

    with Connection(redis_url, transport_options={"visibility_timeout": visibility_timeout}) as conn:
        qos = conn.default_channel.qos
        qos.restore_visible(num=1000, interval=1)
        client = conn.default_channel.client
        return client.zcount(qos.unacked_index_key, 0, time.time() - visibility_timeout)


@pytest.fixture
def drained(redis_server):
    """`drained(esp=None, rows_final=True, timeout=60)`: wait until the work has drained: no
    task message queued or running, no digest pending or sending (with `rows_final`), and
    the fake ESP idle. Duplicate checks count only after this, never after a fixed sleep.

    Each condition is read in one poll and must hold in three polls in a row, so that a
    message moving from the queue to a worker between two reads is never missed."""
    from alerts.models import Digest

    def busy(esp, rows_final: bool) -> str:
        if (messages := broker_busy(redis_server.url)) > 0:
            return f"{messages} task messages on the broker"
        if rows_final:
            working = Digest.objects.filter(status__in=[Digest.Status.PENDING, Digest.Status.SENDING])
            if (rows := working.count()) > 0:
                return f"{rows} digests pending or sending"
        if esp is not None and not esp.idle:
            return "the ESP is still busy"
        return ""

    def wait(esp=None, *, rows_final: bool = True, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        quiet = 0
        while quiet < 3:
            why = busy(esp, rows_final)
            quiet = 0 if why else quiet + 1
            if why and time.monotonic() > deadline:
                raise TimeoutError(f"work not drained in {timeout}s: {why}")
            time.sleep(0.1)

    return wait


# Browser ------------------------------------------------------------------------------


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "chromium", "chromium-browser", "google-chrome"):
        if candidate and shutil.which(candidate):
            return shutil.which(candidate)
    return None


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    require(path is not None, "Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API refuses to start inside a running asyncio loop; none runs here.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    user_data = tempfile.mkdtemp(prefix="pa-chromium-")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    shutil.rmtree(user_data, ignore_errors=True)


@pytest.fixture
def screenshots(request) -> Path:
    """A directory for this test's screenshots (kept after the run for a reviewer, not committed)."""
    directory = ARTIFACTS / request.node.name.replace("/", "_")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


# Data -----------------------------------------------------------------------------------


@pytest.fixture
def week_papers(db):
    """Sixty real papers (titles and abstracts from Hugging Face's daily list), first seen
    over the last seven days: paper i arrived around noon (UTC) i % 7 days ago."""
    import datetime as dt
    import json

    from django.utils import timezone

    from tests.factories import PaperFactory

    data = json.loads((servers.ROOT / "tests" / "fixtures" / "subscribers" / "week_papers.json").read_text())
    noon = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    papers = []
    for i, item in enumerate(data["papers"]):
        seen = noon - dt.timedelta(days=i % 7, seconds=i)
        papers.append(
            PaperFactory(
                title=item["title"],
                abstract=item["abstract"],
                first_seen_at=seen,
                announced_on=seen.date(),
                categories=["cs.CL" if i % 2 else "cs.AI"],
                primary_category="cs.CL" if i % 2 else "cs.AI",
            )
        )
    return papers


# The outside world ----------------------------------------------------------------------


@pytest.fixture
def fakeweb():
    """A scripted local web server playing arXiv, Hugging Face, an ESP (see tests/fakeweb.py)."""
    from tests.fakeweb import FakeWeb

    web = FakeWeb().start()
    yield web
    web.stop()


@pytest.fixture
def esp():
    """A local stand-in for Postmark's API (tests/fakeesp.py), for worker processes to send to:
    pass `**esp.settings()` to `celery_workers`."""
    from tests.fakeesp import FakeESP

    server = FakeESP().start()
    yield server
    server.stop()


ESP_WEBHOOK_SECRET = "hook:fake-esp-webhook-password"


@pytest.fixture
def esp_webhooks(esp, live_server, settings):
    """The fake ESP reports each message it accepted to our anymail tracking webhook (a live
    server in this process), as Postmark does: the ESP's evidence that it took a message."""
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": ESP_WEBHOOK_SECRET}
    esp.send_webhooks_to(f"{live_server.url}/anymail/postmark/tracking/", ESP_WEBHOOK_SECRET)
    return esp
