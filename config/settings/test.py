"""The test suite: fast hashers, a file-backed SQLite test database other processes can open."""

from .base import *  # noqa: F403
from .base import DATA_DIR, DATABASES, env

SECRET_KEY = "test-key-not-for-production"  # noqa: S105
DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# A Celery worker or gunicorn started by a test must see the test database, so SQLite's
# test database is a file (Django's default for SQLite tests is in memory).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
DATA_DIR.mkdir(parents=True, exist_ok=True)
(DATA_DIR / "staticfiles").mkdir(exist_ok=True)
# Fetch tests measure the spacing between requests; they set their own small interval.
ARXIV_REQUEST_INTERVAL = env.float("ARXIV_REQUEST_INTERVAL", default=0.0)
FETCH_BACKOFF = env.float("FETCH_BACKOFF", default=0.01)
# The webhook tests post what Postmark sends; the suite's email backend is locmem.
ESP_WEBHOOKS = ["postmark"]
# Sign-up answers are held for a fixed time in production; the tests that measure it set it.
SIGNUP_ANSWER_SECONDS = 0.0
# Compiled filters stay in each process's memory: a test run leaves no store behind, and the
# tests of the kept store name their own file.
MATCHER_FILTER_STORE = ""
