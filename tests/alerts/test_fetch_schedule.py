"""The daily fetch schedule: created by migrate, run by beat, editable in the admin."""

import json

import pytest
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from config.celery import app

pytestmark = pytest.mark.django_db

TASK = "alerts.tasks.fetch_papers_task"


def test_migrate_creates_the_daily_fetch_schedule():
    tasks = {t.name: t for t in PeriodicTask.objects.filter(task=TASK).select_related("crontab")}

    assert set(tasks) == {"Fetch arXiv listings", "Refresh Hugging Face daily papers", "Fetch extra feeds"}
    listings = tasks["Fetch arXiv listings"]
    assert json.loads(listings.kwargs) == {"source": "arxiv-rss"}
    cron = listings.crontab
    # 00:30 New York time on Monday to Friday: after arXiv's midnight update, Sunday to Thursday nights.
    assert (cron.minute, cron.hour, cron.day_of_week, str(cron.timezone)) == (
        "30",
        "0",
        "1-5",
        "America/New_York",
    )
    hf = tasks["Refresh Hugging Face daily papers"]
    assert json.loads(hf.kwargs) == {"source": "hf-daily"}
    assert (hf.crontab.hour, hf.crontab.day_of_week) == ("*/4", "*")
    assert all(t.enabled for t in tasks.values())


def test_beat_reads_the_schedule_and_the_task_exists():
    app.loader.import_default_modules()
    assert TASK in app.tasks

    # The entry beat builds from the row (beat loads rows due within a few hours of now).
    entry = DatabaseScheduler.Entry(PeriodicTask.objects.get(name="Fetch arXiv listings"), app=app)

    assert entry.task == TASK
    assert entry.kwargs == {"source": "arxiv-rss"}
    assert str(entry.schedule.tz) == "America/New_York"
    assert entry.schedule.day_of_week == {1, 2, 3, 4, 5}
    assert entry.schedule.hour == {0}


def test_the_schedule_shows_and_can_be_edited_in_the_admin(client, django_user_model):
    django_user_model.objects.create_superuser("admin", "admin@example.org", "a-long-test-password")
    assert client.login(username="admin", password="a-long-test-password")

    changelist = client.get("/admin/django_celery_beat/periodictask/")

    assert changelist.status_code == 200
    text = changelist.content.decode()
    for name in ("Fetch arXiv listings", "Refresh Hugging Face daily papers", "Fetch extra feeds"):
        assert name in text
    task = PeriodicTask.objects.get(name="Fetch arXiv listings")
    form = client.get(f"/admin/django_celery_beat/periodictask/{task.pk}/change/")
    assert form.status_code == 200
    assert 'name="enabled"' in form.content.decode()
