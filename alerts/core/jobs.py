"""Queueing background work by the task's name.

Services sit below the Celery tasks that call them, so they never import a task module
(that would be a cycle: tasks import services). They name the task instead, and the name
is looked up in Celery's registry (each app's `ready()` registers its tasks), so the task's
own options (time limits, retries, eager mode without a broker) still apply, and a wrong
name fails at once rather than queueing a message no worker knows.
"""

from __future__ import annotations

from celery import current_app
from django.db import transaction


def enqueue_on_commit(task_name: str, *args, countdown: float | None = None) -> None:
    """Queue `task_name(*args)` once the current transaction commits: workers only ever
    see committed rows, and a rolled-back transaction queues nothing. `countdown`: seconds
    before a worker may start it."""
    task = current_app.tasks[task_name]
    if countdown:
        transaction.on_commit(lambda: task.apply_async(args, countdown=countdown))
    else:
        transaction.on_commit(lambda: task.delay(*args))
