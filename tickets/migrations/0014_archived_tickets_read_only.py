"""PostgreSQL guards of the archive (归档): an archived ticket's record is read-only forever.

The services refuse every change to an archived ticket; these triggers refuse it to
anything else that writes to the database (a shell, a script, a bulk UPDATE):

- the ticket row: no UPDATE, no DELETE once its stored state is archived;
- its history: events are append-only already (0002), and none is added after the
  archive event itself;
- its photos, supporters, extension requests and deadline cards: no INSERT, UPDATE
  or DELETE;
- the messages kept with it: no UPDATE or DELETE. A message may still arrive for it (a
  repost of its Weibo post is kept, counting nothing), as the gateway sent it.

Left writable on purpose: the access log of reveals (PersonalDataAccess), which records
reading the archive, and notifications, whose delivery status is the sender's.

A data migration that must rewrite archived rows disables the trigger of that table
within its own transaction (`ALTER TABLE ... DISABLE TRIGGER ...`, then `ENABLE`).
The embedded demo's SQLite has no triggers; the services guard it alone.
"""

from django.db import migrations

# Each guarded table and the operations refused on rows of an archived ticket.
RECORD_TABLES = {
    "tickets_attachment": "INSERT OR UPDATE OR DELETE",
    "tickets_supporter": "INSERT OR UPDATE OR DELETE",
    "tickets_extensionrequest": "INSERT OR UPDATE OR DELETE",
    "tickets_deadlinealert": "INSERT OR UPDATE OR DELETE",
    "tickets_inboundmessage": "UPDATE OR DELETE",
}

FORWARD = [
    """
    CREATE OR REPLACE FUNCTION tickets_archived_ticket_read_only() RETURNS trigger AS $$
    BEGIN
        RAISE EXCEPTION 'ticket % is archived and read-only (% refused)', OLD.number, TG_OP
            USING ERRCODE = 'restrict_violation';
    END;
    $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS ticket_archived_read_only ON tickets_ticket",
    # The WHEN clause keeps the cost off every other ticket: the function runs only
    # for rows stored as archived.
    "CREATE TRIGGER ticket_archived_read_only BEFORE UPDATE OR DELETE ON tickets_ticket "
    "FOR EACH ROW WHEN (OLD.state = 'archived') EXECUTE FUNCTION tickets_archived_ticket_read_only()",
    """
    CREATE OR REPLACE FUNCTION tickets_archived_event_refused() RETURNS trigger AS $$
    BEGIN
        -- The archive event is written after the ticket became archived, in the same
        -- transaction: that one line, once, is the last the history takes.
        IF EXISTS (SELECT 1 FROM tickets_ticket WHERE id = NEW.ticket_id AND state = 'archived')
           AND (NEW.kind <> 'archive' OR EXISTS (
                SELECT 1 FROM tickets_ticketevent WHERE ticket_id = NEW.ticket_id AND kind = 'archive'))
        THEN
            RAISE EXCEPTION 'ticket % is archived: its history takes no new event', NEW.ticket_id
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END;
    $$ LANGUAGE plpgsql
    """,
    "DROP TRIGGER IF EXISTS ticketevent_archived_refused ON tickets_ticketevent",
    "CREATE TRIGGER ticketevent_archived_refused BEFORE INSERT ON tickets_ticketevent "
    "FOR EACH ROW EXECUTE FUNCTION tickets_archived_event_refused()",
    """
    CREATE OR REPLACE FUNCTION tickets_archived_record_read_only() RETURNS trigger AS $$
    DECLARE
        ticket_ids bigint[];
    BEGIN
        IF TG_OP = 'INSERT' THEN
            ticket_ids := ARRAY[NEW.ticket_id];
        ELSIF TG_OP = 'DELETE' THEN
            ticket_ids := ARRAY[OLD.ticket_id];
        ELSE  -- an UPDATE may neither change a row of an archived ticket nor move one onto it
            ticket_ids := ARRAY[OLD.ticket_id, NEW.ticket_id];
        END IF;
        IF EXISTS (SELECT 1 FROM tickets_ticket WHERE id = ANY(ticket_ids) AND state = 'archived') THEN
            RAISE EXCEPTION '% on % refused: the ticket is archived and read-only', TG_OP, TG_TABLE_NAME
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END;
    $$ LANGUAGE plpgsql
    """,
    *[
        statement
        for table, operations in RECORD_TABLES.items()
        for statement in (
            f"DROP TRIGGER IF EXISTS {table}_archived_read_only ON {table}",
            f"CREATE TRIGGER {table}_archived_read_only BEFORE {operations} ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION tickets_archived_record_read_only()",
        )
    ],
]

BACKWARD = [
    *[f"DROP TRIGGER IF EXISTS {table}_archived_read_only ON {table}" for table in RECORD_TABLES],
    "DROP FUNCTION IF EXISTS tickets_archived_record_read_only()",
    "DROP TRIGGER IF EXISTS ticketevent_archived_refused ON tickets_ticketevent",
    "DROP FUNCTION IF EXISTS tickets_archived_event_refused()",
    "DROP TRIGGER IF EXISTS ticket_archived_read_only ON tickets_ticket",
    "DROP FUNCTION IF EXISTS tickets_archived_ticket_read_only()",
]


def _run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return apply


class Migration(migrations.Migration):
    dependencies = [("tickets", "0013_returned_tickets_index")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
