"""The beat schedules of 0003 (fetching) and 0005 (digests) read from one definition,
alerts/schedules.py, from now on.

Idempotent: rows are found by name and updated, never duplicated. The task, its kwargs and
its description come from the definition; the crontab and the enabled flag of an existing
row are kept, because an admin may have changed when a task runs or switched it off, and
a migration must not silently undo that. A row an admin deleted comes back, enabled: the
pipeline needs every one of these tasks (switch one off rather than delete it).

This migration imports the definition on purpose, so that a later change of the schedule
is one edit there plus a migration that calls `schedules_store` again.
"""

from django.db import migrations

from alerts.schedules import schedules_store


def store(apps, schema_editor):
    schedules_store(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0007_digest_unknown_outcome"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    # Going back leaves the rows as they are: 0003 and 0005 made the same ones.
    operations = [migrations.RunPython(store, migrations.RunPython.noop)]
