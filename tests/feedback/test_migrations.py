"""The statistics' migrations keep the figures already counted."""

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("feedback", "0002_statistics")]
AFTER = [("feedback", "0003_handling_time_in_rollups")]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_the_histogram_rows_move_into_their_rollup_rows_bucket_counters():
    apps = _migrate(BEFORE)
    rollup, histogram = apps.get_model("feedback", "StatsRollup"), apps.get_model("feedback", "StatsHandlingTime")
    key = {"grain": "month", "start": dt.date(2026, 11, 1), "unit_id": 5, "category_id": -1, "district_id": 3}
    other = {**key, "unit_id": 6}
    rollup.objects.create(**key, handled=7)
    rollup.objects.create(**other, handled=0)
    histogram.objects.create(**key, bucket=0, count=2)
    histogram.objects.create(**key, bucket=3, count=4)
    histogram.objects.create(**key, bucket=15, count=1)

    apps = _migrate(AFTER)

    rows = {r["unit_id"]: r for r in apps.get_model("feedback", "StatsRollup").objects.values()}
    buckets = {name: value for name, value in rows[5].items() if name.startswith("handled_") and value}
    assert buckets == {"handled_upto_1h": 2, "handled_upto_8h": 4, "handled_over_720h": 1}
    assert rows[5]["handled"] == 7
    assert not any(value for name, value in rows[6].items() if name.startswith("handled_"))
    assert "feedback_statshandlingtime" not in connection.introspection.table_names()
