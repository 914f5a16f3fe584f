"""`make run` and development: debug on, a throwaway key, the local outbox for email."""

import json
from pathlib import Path

from .base import *  # noqa: F403
from .base import DATA_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="local-development-key-not-for-production")
DATA_DIR.mkdir(parents=True, exist_ok=True)
(DATA_DIR / "staticfiles").mkdir(exist_ok=True)


def recorded_site_url(path: Path) -> str:
    """The SITE_URL `make run` chose and recorded (config/run.py), or "" if it never ran."""
    try:
        return str(json.loads(path.read_text())["SITE_URL"])
    except (OSError, ValueError, KeyError, TypeError):
        return ""


# SITE: one SITE_URL for every process. `make run PORT=8347` records the URL it serves on
# under DATA_DIR, so `manage.py send_digests` in another terminal builds the same links as
# the processes make run started; the environment still wins when set.
SITE_URL = (
    env("SITE_URL", default="") or recorded_site_url(DATA_DIR / "site.json") or "http://localhost:8000"
).rstrip("/")
FETCH_USER_AGENT = env("FETCH_USER_AGENT", default=f"paper-alerts/1.0 (+{SITE_URL})")
