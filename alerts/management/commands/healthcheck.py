"""`python manage.py healthcheck`: exit 0 when the database and the broker answer.

The health probe of processes that serve no HTTP (beat); the web server answers /healthz.
"""

from django.core.management.base import BaseCommand, CommandError

from alerts.health import health_check


class Command(BaseCommand):
    help = "Check that the database and the Celery broker answer (exit status 1 if not)."

    def handle(self, *args, **options):
        parts = health_check()
        failing = {name: state for name, state in parts.items() if state != "ok"}
        if failing:
            raise CommandError("; ".join(f"{name}: {state}" for name, state in failing.items()))
        self.stdout.write("ok: " + ", ".join(parts))
