from django.apps import AppConfig


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
