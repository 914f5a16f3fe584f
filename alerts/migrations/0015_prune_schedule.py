"""The nightly pruning of old rows (alerts.tasks.prune_old_rows) joins the beat schedule.

Stored from the one definition, alerts/schedules.py, like 0008: the rows that exist keep
an admin's choices, the new one is created enabled.
"""

from django.db import migrations

from alerts.schedules import schedules_store


def store(apps, schema_editor):
    schedules_store(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0014_incident_check_schedule"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    # Going back leaves the row: an admin can disable or delete it.
    operations = [migrations.RunPython(store, migrations.RunPython.noop)]
