"""The address of the client a request comes from: what rate limits count and what the
audit trail records for a sign-up.

Behind the TLS proxy the README's set-up requires, every request reaches gunicorn from the
proxy, so REMOTE_ADDR is the proxy's address for everyone. Each proxy appends the address
it received the request from to X-Forwarded-For; a client can put anything before that,
never after. With TRUSTED_PROXIES = N proxies in front (production: 1), the client is the
N-th entry from the right: the right-most one that no trusted proxy wrote for another
proxy. With TRUSTED_PROXIES = 0 (the service faces clients directly) the header is
ignored, whatever a client sends in it.

An operator whose proxy writes a header of its own (e.g. X-Real-IP, overwritten on every
request) may name it in RATELIMIT_IP_META_KEY (`HTTP_X_REAL_IP`) instead.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

# What settings.RATELIMIT_IP_META_KEY names by default (django-ratelimit imports it).
FUNCTION_PATH = "subscribers.clientip.client_ip"


def _forwarded_client(request: HttpRequest, hops: int) -> str | None:
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    entries = [entry.strip() for entry in header.split(",")]
    if len(entries) < hops or not entries[-hops]:
        return None  # not through the proxies (a probe from inside the host, say)
    try:
        return str(ipaddress.ip_address(entries[-hops]))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str:
    """The client's address (see the module's docstring); never raises."""
    remote = request.META.get("REMOTE_ADDR") or "0.0.0.0"  # noqa: S104 - an address to count, not to bind
    meta_key = settings.RATELIMIT_IP_META_KEY
    if meta_key and meta_key != FUNCTION_PATH:
        return request.META.get(meta_key) or remote
    hops = settings.TRUSTED_PROXIES
    if hops <= 0:
        return remote
    return _forwarded_client(request, hops) or remote
