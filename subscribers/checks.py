"""System checks of the subscription pages' set-up."""

from __future__ import annotations

from django.conf import settings
from django.core import checks

from subscribers.addresses import AddressError, domain_patterns

PROCESS_LOCAL_CACHES = {
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
}


@checks.register(checks.Tags.caches)
def rate_limits_shared(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Rate limits count in the default cache; a process-local one counts per process."""
    backend = settings.CACHES["default"]["BACKEND"]
    if backend not in PROCESS_LOCAL_CACHES:
        return []
    return [
        checks.Warning(
            "Rate limits are counted in each process's own memory (REDIS_URL is not set).",
            hint=(
                "Right for one web process (make run). With several (gunicorn workers, more "
                "hosts), each counts alone and a client gets the limit once per process: "
                "set REDIS_URL."
            ),
            id="subscribers.W001",
        )
    ]


@checks.register()
def signup_domains_valid(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """Every SIGNUP_ALLOWED_DOMAINS entry is a domain or `*.` and a domain."""
    try:
        domain_patterns(settings.SIGNUP_ALLOWED_DOMAINS)
    except AddressError as exc:
        return [
            checks.Error(
                f"SIGNUP_ALLOWED_DOMAINS: {exc.message}",
                hint="A comma-separated list such as: uni.edu,*.uni.edu",
                id="subscribers.E001",
            )
        ]
    return []
