"""The daily fetch schedule, as django-celery-beat rows an admin can edit (or disable).

arXiv's listings are rebuilt at midnight US Eastern after each announcement, Sunday to
Thursday night, so they are fetched early on Monday to Friday, New York time. Hugging
Face's upvotes move all day: its daily list is refreshed every few hours. Extra feeds
(journals, blogs) are read once a night.
"""

import json

from django.db import migrations

TASK = "alerts.tasks.fetch_papers_task"

SCHEDULES = [
    {
        "name": "Fetch arXiv listings",
        "kwargs": {"source": "arxiv-rss"},
        "crontab": {"minute": "30", "hour": "0", "day_of_week": "1-5", "timezone": "America/New_York"},
        "description": "arXiv's listing feeds for the categories in use, after arXiv's midnight update "
        "(Sunday to Thursday nights, New York time).",
    },
    {
        "name": "Refresh Hugging Face daily papers",
        "kwargs": {"source": "hf-daily"},
        "crontab": {"minute": "15", "hour": "*/4", "day_of_week": "*", "timezone": "UTC"},
        "description": "Hugging Face's daily papers of today and yesterday: new papers and their upvotes.",
    },
    {
        "name": "Fetch extra feeds",
        "kwargs": {"source": "feed"},
        "crontab": {"minute": "45", "hour": "1", "day_of_week": "*", "timezone": "UTC"},
        "description": "Every feed in EXTRA_FEEDS (journals, blogs), one task each.",
    },
]


def create_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for entry in SCHEDULES:
        crontab, _ = CrontabSchedule.objects.get_or_create(day_of_month="*", month_of_year="*", **entry["crontab"])
        PeriodicTask.objects.update_or_create(
            name=entry["name"],
            defaults={
                "task": TASK,
                "crontab": crontab,
                "kwargs": json.dumps(entry["kwargs"]),
                "description": entry["description"],
                "enabled": True,
            },
        )


def remove_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[entry["name"] for entry in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0002_fetchrun_and_affiliations"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
