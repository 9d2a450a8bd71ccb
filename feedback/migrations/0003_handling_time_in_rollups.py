"""The histogram of handling times moves into the rollup rows, one counter a bucket.

A table's p90 read the histogram's own rows (up to 16 a rollup row, 13,000 pages for a
year by unit at a city's scale); kept in the row, it comes with the sums. The counts
already there are carried over, then the histogram table goes.
"""

from django.db import migrations, models

BUCKET_HOURS = (1, 2, 4, 8, 12, 24, 36, 48, 72, 96, 120, 168, 240, 360, 720)
HANDLED_BUCKETS = (*(f"handled_upto_{hours}h" for hours in BUCKET_HOURS), "handled_over_720h")


def carry_histograms_over(apps, schema_editor):
    """Copy each histogram row's count into its rollup row's bucket counter (one UPDATE)."""
    rollup = schema_editor.quote_name(apps.get_model("feedback", "StatsRollup")._meta.db_table)
    histogram = schema_editor.quote_name(apps.get_model("feedback", "StatsHandlingTime")._meta.db_table)
    columns = ", ".join(f"{name} = h.{name}" for name in HANDLED_BUCKETS)
    pivot = ", ".join(f"sum(count) FILTER (WHERE bucket = {index}) AS {name}" if schema_editor.connection.vendor
                      == "postgresql" else f"sum(CASE WHEN bucket = {index} THEN count ELSE 0 END) AS {name}"
                      for index, name in enumerate(HANDLED_BUCKETS))
    coalesced = ", ".join(f"coalesce({name}, 0) AS {name}" for name in HANDLED_BUCKETS)
    schema_editor.execute(
        f"UPDATE {rollup} SET {columns} FROM (SELECT grain, start, unit_id, category_id, {coalesced}"
        f" FROM (SELECT grain, start, unit_id, category_id, {pivot} FROM {histogram}"
        " GROUP BY grain, start, unit_id, category_id) p) h"
        f" WHERE {rollup}.grain = h.grain AND {rollup}.start = h.start"
        f" AND {rollup}.unit_id = h.unit_id AND {rollup}.category_id = h.category_id"
    )


class Migration(migrations.Migration):

    dependencies = [
        ("feedback", "0002_statistics"),
    ]

    operations = [
        *(
            migrations.AddField(model_name="statsrollup", name=name, field=models.BigIntegerField(default=0))
            for name in HANDLED_BUCKETS
        ),
        migrations.RunPython(carry_histograms_over, migrations.RunPython.noop, elidable=True),
        migrations.DeleteModel(name="StatsHandlingTime"),
    ]
