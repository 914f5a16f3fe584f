from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Papers and digests"

    def ready(self) -> None:
        from alerts import signals  # noqa: F401 - connects the ESP webhook receiver
