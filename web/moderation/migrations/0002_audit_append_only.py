"""The audit trail is append-only in the database too: a trigger refuses UPDATE and DELETE of
``moderation_auditevent`` rows (PostgreSQL, which the tests and compose run, and SQLite, which
the demo runs). Other databases get the model-level refusal only (``AuditEvent``)."""

from django.db import migrations

TABLE = "moderation_auditevent"
MESSAGE = "moderation_auditevent is append-only"

POSTGRES_CREATE = f"""
CREATE OR REPLACE FUNCTION moderation_audit_refuse() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '{MESSAGE}: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER moderation_audit_append_only
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION moderation_audit_refuse();
"""
POSTGRES_DROP = f"""
DROP TRIGGER IF EXISTS moderation_audit_append_only ON {TABLE};
DROP FUNCTION IF EXISTS moderation_audit_refuse();
"""
SQLITE_CREATE = [
    f"""CREATE TRIGGER moderation_audit_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}: UPDATE refused'); END;""",
    f"""CREATE TRIGGER moderation_audit_no_delete BEFORE DELETE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, '{MESSAGE}: DELETE refused'); END;""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS moderation_audit_no_update;",
    "DROP TRIGGER IF EXISTS moderation_audit_no_delete;",
]


def create_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_CREATE, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_CREATE:
            schema_editor.execute(statement, params=None)


def drop_trigger(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRES_DROP, params=None)
    elif vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("moderation", "0001_initial")]

    operations = [migrations.RunPython(create_trigger, drop_trigger)]
