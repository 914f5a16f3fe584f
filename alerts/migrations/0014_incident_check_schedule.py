"""The incident check (operator alerts) joins the beat schedule: rows made from
alerts/schedules.py again (idempotent; an admin's crontab and enabled flag are kept)."""

from django.db import migrations

from alerts.schedules import schedules_store


def store(apps, schema_editor):
    schedules_store(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0013_incident"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    # Going back leaves the row: it names a task that still exists.
    operations = [migrations.RunPython(store, migrations.RunPython.noop)]
