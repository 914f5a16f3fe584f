"""The Celery app: web, worker and beat all load it from here."""

import os
import sys
from pathlib import Path

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections


def _started_as_celery() -> bool:
    """This process is the `celery` command (`celery ...` or `python -m celery ...`)."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return program.name == "celery" or program.parent.name == "celery"


# No default settings module: a worker or beat that fell back to the local settings would
# run with DEBUG on, the embedded database and the outbox, and quietly send nothing real.
# Only the `celery` command is checked: manage.py, wsgi.py and `make run` (config/run.py)
# import this module too, and name their settings themselves.
if _started_as_celery() and not os.environ.get("DJANGO_SETTINGS_MODULE"):
    sys.exit(
        "DJANGO_SETTINGS_MODULE is not set: name the settings this worker or beat runs with, "
        "e.g. DJANGO_SETTINGS_MODULE=config.settings.production celery -A config worker "
        "(make run, the Docker image and docker-compose.yml set it)."
    )

app = Celery("paper_alerts")
# Every Celery setting lives in Django settings under the CELERY_ prefix.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _recycle_database_connections(task=None, **kwargs) -> None:
    """Around each task, as Django around each request: keep the database session unless
    it is older than CONN_MAX_AGE, fails its health check or saw an error. Celery's own
    fixup would close it every time (settings: CELERY_DB_REUSE_MAX). An eager task runs
    inside its caller's transaction: its connection is the caller's, and left alone."""
    if task is not None and getattr(task.request, "is_eager", False):
        return
    close_old_connections()
