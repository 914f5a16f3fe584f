"""Queueing background work by the task's name.

Services sit below the Celery tasks that call them, so they never import a task module
(that would be a cycle: tasks import services). They name the task instead; Celery resolves
the name in its registry when the job is queued, so the task's own options (time limits,
retries, eager mode in tests) still apply.
"""

from __future__ import annotations

from functools import cache

from celery import current_app
from django.db import transaction


def enqueue_on_commit(task_name: str, *args) -> None:
    """Queue `task_name(*args)` once the current transaction commits: workers only ever
    see committed rows, and a rolled-back transaction queues nothing."""
    transaction.on_commit(lambda: _signature(task_name, args).delay())


@cache
def _tasks_registered() -> None:
    # autodiscover_tasks() imports the apps' tasks modules when a worker starts; a web
    # process (or a test) that never imported one would otherwise find the name missing
    # from the registry, and an unknown name is sent to the broker even in eager mode.
    current_app.loader.import_default_modules()


def _signature(task_name: str, args: tuple):
    _tasks_registered()
    return current_app.signature(task_name, args=args)
