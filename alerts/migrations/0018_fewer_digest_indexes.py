import django.db.models.deletion
from django.db import migrations, models

# PostgreSQL compresses a large value (a digest's extra matches are a few kilobytes of JSON)
# with pglz by default; lz4 does it at a fraction of the CPU. Servers built without lz4
# keep pglz.
LZ4 = "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"


def compress_with_lz4(apps, schema_editor, method="lz4"):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(LZ4)
        if cursor.fetchone():
            cursor.execute(f"ALTER TABLE alerts_digest ALTER COLUMN more_matches SET COMPRESSION {method}")


def compress_with_pglz(apps, schema_editor):
    compress_with_lz4(apps, schema_editor, method="pglz")


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0017_digest_more_matches"),
        ("subscribers", "0010_subscriber_week_day_paused_until"),
    ]

    operations = [
        migrations.AlterField(
            model_name="digest",
            name="subscriber",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="digests",
                to="subscribers.subscriber",
            ),
        ),
        migrations.AlterField(
            model_name="digest",
            name="claim_id",
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="digestitem",
            name="digest",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="items",
                to="alerts.digest",
            ),
        ),
        migrations.AlterField(
            model_name="digestitem",
            name="paper",
            field=models.ForeignKey(
                db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+", to="alerts.paper"
            ),
        ),
        migrations.RunPython(compress_with_lz4, compress_with_pglz),
    ]
