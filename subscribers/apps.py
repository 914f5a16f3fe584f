from django.apps import AppConfig


class SubscribersConfig(AppConfig):
    name = "subscribers"
    verbose_name = "Subscribers"

    def ready(self) -> None:
        # Services queue tasks by name (alerts.core.jobs); registered here in every process.
        from subscribers import tasks  # noqa: F401
