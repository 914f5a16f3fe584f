"""The digest schedules, as django-celery-beat rows an admin can edit (or disable).

Dispatch runs every 15 minutes: subscribers in time zones a half or quarter hour off UTC
(India, Nepal, parts of Australia) reach their send hour at :30 or :45. Each run is
idempotent, so running often costs a few cheap queries. Recovery runs every 2 minutes.
"""

from django.db import migrations

SCHEDULES = [
    {
        "name": "Dispatch due digests",
        "task": "alerts.tasks.dispatch_due_digests",
        "minute": "*/15",
        "description": "Create the digests of subscribers whose local send hour has come, and queue them.",
    },
    {
        "name": "Recover stalled digests",
        "task": "alerts.tasks.recover_digests",
        "minute": "*/2",
        "description": "Take over digests claimed by a worker that died; queue pending digests whose "
        "task was lost (e.g. a broker restart).",
    },
]


def create_schedules(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for entry in SCHEDULES:
        crontab, _ = CrontabSchedule.objects.get_or_create(
            minute=entry["minute"], hour="*", day_of_week="*", day_of_month="*", month_of_year="*", timezone="UTC"
        )
        PeriodicTask.objects.update_or_create(
            name=entry["name"],
            defaults={
                "task": entry["task"],
                "crontab": crontab,
                "description": entry["description"],
                "enabled": True,
            },
        )


def remove_schedules(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name__in=[entry["name"] for entry in SCHEDULES]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0004_digests"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
