from anymail import urls as anymail_urls
from django.conf import settings
from django.urls import include, path

from alerts import views


def _esp_webhooks() -> tuple[list, str]:
    """anymail's webhook URLs of the configured ESPs only (settings.ESP_WEBHOOKS): the
    others would answer with a 500 for want of their settings; unmounted, they are 404."""
    mounted = [
        pattern
        for pattern in anymail_urls.urlpatterns
        if str(pattern.pattern).lstrip("^").split("/", 1)[0] in settings.ESP_WEBHOOKS
    ]
    return mounted, anymail_urls.app_name


urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
    path("digest/<str:token>/", views.digest_view, name="digest-view"),
    path("feed/<str:token>.xml", views.DigestFeed(), name="digest-feed"),
    path("anymail/", include(_esp_webhooks())),
]
