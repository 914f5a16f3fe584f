from django.conf import settings

from subscribers.models import MAX_FILTERS


def site(request) -> dict:
    """What every page may show: the site's name and the subscription limits."""
    return {"site_name": settings.SITE_NAME, "max_filters": MAX_FILTERS}
