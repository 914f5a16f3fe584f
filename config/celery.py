"""The Celery app: web, worker and beat all load it from here."""

import os

from celery import Celery
from django.core.exceptions import ImproperlyConfigured

# No default: a worker that fell back to the local settings would run with DEBUG on, the
# embedded database and the outbox, and quietly send nothing real. manage.py, wsgi.py,
# `make run` (config/run.py), the Docker image and compose each name their settings.
if not os.environ.get("DJANGO_SETTINGS_MODULE"):
    raise ImproperlyConfigured(
        "DJANGO_SETTINGS_MODULE is not set: name the settings this worker or beat runs with, "
        "e.g. DJANGO_SETTINGS_MODULE=config.settings.production celery -A config worker "
        "(make run, the Docker image and docker-compose.yml set it)."
    )

app = Celery("paper_alerts")
# Every Celery setting lives in Django settings under the CELERY_ prefix.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
