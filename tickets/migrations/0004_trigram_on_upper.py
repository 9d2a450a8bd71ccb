"""Trigram indexes on UPPER(column): Django's icontains compares UPPER(col) LIKE UPPER(%q%).

The indexes on the bare columns were never chosen; a rare term scanned the table.
"""

from django.db import migrations

FORWARD = [
    "DROP INDEX IF EXISTS ticket_description_trgm",
    "DROP INDEX IF EXISTS ticket_address_trgm",
    "CREATE INDEX IF NOT EXISTS ticket_description_upper_trgm ON tickets_ticket "
    "USING gin ((UPPER(description)) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ticket_address_upper_trgm ON tickets_ticket "
    "USING gin ((UPPER(address)) gin_trgm_ops)",
]

BACKWARD = [
    "DROP INDEX IF EXISTS ticket_description_upper_trgm",
    "DROP INDEX IF EXISTS ticket_address_upper_trgm",
    "CREATE INDEX IF NOT EXISTS ticket_description_trgm ON tickets_ticket "
    "USING gin (description gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ticket_address_trgm ON tickets_ticket USING gin (address gin_trgm_ops)",
]


def _run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return apply


class Migration(migrations.Migration):
    dependencies = [("tickets", "0003_extension_withdrawn")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
