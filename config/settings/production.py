"""Production: every secret from the environment, HTTPS behind a proxy, an ESP for email."""

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import REDIS_URL, env

DEBUG = False
# No defaults: production refuses to start without a real key and its host names.
SECRET_KEY = env("DJANGO_SECRET_KEY")
if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be a random string of 50+ characters.")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Every link in every email is built from SITE_URL: without it a digest's unsubscribe links
# would point at base.py's development default, so production does not start.
SITE_URL = env("SITE_URL", default="").rstrip("/")
if urlsplit(SITE_URL).scheme not in ("https", "http") or not urlsplit(SITE_URL).hostname:
    raise ImproperlyConfigured(
        "SITE_URL must be set to the public address of the site, e.g. https://alerts.example.org: "
        "every link in the emails is built from it."
    )
FETCH_USER_AGENT = env("FETCH_USER_AGENT", default=f"paper-alerts/1.0 (+{SITE_URL})")

# HTTPS terminates at the proxy in front of gunicorn, which sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# That proxy appends the client's address to X-Forwarded-For (subscribers/clientip.py).
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=1)
# Several gunicorn workers (and hosts) must share the rate-limit counts, and tasks need a
# broker: without Redis both would silently run per process.
if not REDIS_URL:
    raise ImproperlyConfigured(
        "REDIS_URL is required in production: the web processes share their rate limits and "
        "the workers their queue through it."
    )
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# /healthz is probed, and /metrics scraped, over plain HTTP from inside the compose network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
