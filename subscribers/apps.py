from django.apps import AppConfig


class SubscribersConfig(AppConfig):
    name = "subscribers"
    verbose_name = "Subscribers"

    def ready(self) -> None:
        # Services queue tasks by name (alerts.core.jobs); registered here in every process.
        from subscribers import (
            checks,  # noqa: F401 - registers the system checks
            tasks,  # noqa: F401
        )
