from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from .health import health_check


@never_cache
def healthz(request):
    parts = health_check()
    healthy = all(state == "ok" for state in parts.values())
    failing = [name for name, state in parts.items() if state != "ok"]
    body = {"status": "ok" if healthy else "unavailable", "parts": parts}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=200 if healthy else 503)
