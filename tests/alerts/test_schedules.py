"""The beat schedule: one definition, stored by migrate, safe to store again."""

import json

import pytest
from django.apps import apps
from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

from alerts.schedules import PERIODIC_TASKS, schedules_store
from config.celery import app

pytestmark = pytest.mark.django_db


def stored() -> dict[str, tuple]:
    return {
        row.name: (
            row.task,
            json.loads(row.kwargs),
            row.enabled,
            row.crontab.minute,
            row.crontab.hour,
            row.crontab.day_of_week,
            str(row.crontab.timezone),
        )
        for row in PeriodicTask.objects.select_related("crontab")
    }


def defined() -> dict[str, tuple]:
    return {
        p.name: (p.task, p.kwargs, True, p.minute, p.hour, p.day_of_week, p.timezone) for p in PERIODIC_TASKS
    }


def test_migrate_stores_every_defined_task_once_and_every_task_exists():
    assert stored() == defined()
    app.loader.import_default_modules()
    assert {p.task for p in PERIODIC_TASKS} <= set(app.tasks)
    assert {p.task for p in PERIODIC_TASKS} == {
        "alerts.tasks.fetch_papers_task",
        "alerts.tasks.dispatch_due_digests",
        "alerts.tasks.recover_digests",
        "alerts.tasks.check_incidents",
        "alerts.tasks.prune_old_rows",
    }


def test_storing_again_changes_nothing_and_duplicates_nothing():
    crontabs = CrontabSchedule.objects.count()
    schedules_store(apps)
    schedules_store(apps)
    assert stored() == defined()
    assert CrontabSchedule.objects.count() == crontabs


def test_storing_keeps_an_admins_choices_and_restores_what_the_code_owns():
    dispatch = PeriodicTask.objects.get(name="Dispatch due digests")
    dispatch.enabled = False
    dispatch.crontab = CrontabSchedule.objects.create(minute="*/5", hour="*", timezone="UTC")
    dispatch.task, dispatch.kwargs = "alerts.tasks.renamed_by_mistake", '{"x": 1}'
    dispatch.save()
    PeriodicTask.objects.filter(name="Fetch extra feeds").delete()
    before = PeriodicTasks.last_change()

    schedules_store(apps)

    now = stored()
    kept = ("alerts.tasks.dispatch_due_digests", {}, False, "*/5", "*", "*", "UTC")
    assert now["Dispatch due digests"] == kept
    assert now["Fetch extra feeds"] == defined()["Fetch extra feeds"]
    assert len(now) == len(PERIODIC_TASKS)
    assert PeriodicTasks.last_change() > before  # beat reloads its schedule


def test_every_task_acknowledges_late_from_the_global_setting():
    # A worker that dies mid-task leaves the message to another worker (and the digest's
    # claim keeps that from sending twice): CELERY_TASK_ACKS_LATE gives it to every task.
    app.loader.import_default_modules()
    ours = [task for name, task in app.tasks.items() if name.startswith(("alerts.", "subscribers."))]
    assert {"alerts.tasks.send_digest_chunk", "alerts.tasks.dispatch_due_digests"} <= {t.name for t in ours}
    assert all(task.acks_late for task in ours)
    assert all(task.reject_on_worker_lost for task in ours)
