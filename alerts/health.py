"""Liveness of the parts the service needs: the database and the Celery broker."""

from django.conf import settings
from django.db import connection


def health_check() -> dict[str, str]:
    """Return {part: "ok" | error text} for each part the service depends on."""
    parts: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        parts["database"] = "ok"
    except Exception as exc:  # any failure means "not healthy"; say which
        parts["database"] = f"error: {exc.__class__.__name__}: {exc}"[:200]
    if settings.REDIS_URL:
        import redis

        try:
            redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2).ping()
            parts["broker"] = "ok"
        except Exception as exc:
            parts["broker"] = f"error: {exc.__class__.__name__}: {exc}"[:200]
    else:
        parts["broker"] = "ok"  # tasks run in-process: there is no broker to lose
    return parts
