"""PostgreSQL-only parts: trigram search indexes and the append-only guard on events.

SQLite (the embedded demo) has neither; the model refuses updates to events there.
"""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # Staff text search (`q`): ILIKE '%...%' on description and address, Chinese included.
    "CREATE INDEX IF NOT EXISTS ticket_description_trgm ON tickets_ticket "
    "USING gin (description gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS ticket_address_trgm ON tickets_ticket USING gin (address gin_trgm_ops)",
    """
    CREATE OR REPLACE FUNCTION tickets_event_append_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'ticket events are append-only (% refused)', TG_OP
            USING ERRCODE = 'restrict_violation';
    END;
    $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS ticketevent_append_only ON tickets_ticketevent",
    "CREATE TRIGGER ticketevent_append_only BEFORE UPDATE OR DELETE ON tickets_ticketevent "
    "FOR EACH ROW EXECUTE FUNCTION tickets_event_append_only()",
]

BACKWARD = [
    "DROP TRIGGER IF EXISTS ticketevent_append_only ON tickets_ticketevent",
    "DROP FUNCTION IF EXISTS tickets_event_append_only()",
    "DROP INDEX IF EXISTS ticket_address_trgm",
    "DROP INDEX IF EXISTS ticket_description_trgm",
]


def _run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return apply


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
