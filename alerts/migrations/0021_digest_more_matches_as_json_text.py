import importlib

from django.db import migrations

import alerts.core.fields

# Changing the column's type resets its compression: lz4 again where the server has it.
lz4 = importlib.import_module("alerts.migrations.0018_fewer_digest_indexes")


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0020_digest_item_lists_as_json_text"),
    ]

    operations = [
        migrations.AlterField(
            model_name="digest",
            name="more_matches",
            field=alerts.core.fields.JSONTextField(blank=True, default=dict),
        ),
        migrations.RunPython(lz4.compress_with_lz4, lz4.compress_with_pglz),
    ]
