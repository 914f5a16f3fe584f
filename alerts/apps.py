from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Papers and digests"

    def ready(self) -> None:
        # Services queue tasks by name (alerts.core.jobs); every process (web, worker,
        # commands) registers them at start, so the name always resolves to the task.
        from alerts import (
            signals,  # noqa: F401 - connects the ESP webhook receiver
            tasks,  # noqa: F401
        )


class AlertsAdminConfig(admin_apps.AdminConfig):
    """Django's admin with the service's own site: the cockpit on the home page (alerts.sites)."""

    default = False  # "alerts" in INSTALLED_APPS stays AlertsConfig; this one is named in full
    default_site = "alerts.sites.AlertsAdminSite"
