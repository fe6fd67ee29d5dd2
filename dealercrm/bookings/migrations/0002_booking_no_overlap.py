"""PostgreSQL only: the database itself refuses two active bookings of a resource that overlap.

`services.booking_create` locks the resource row and checks first, which is what names the clash
for the user; this constraint is the last word should any write ever go around the service. It
needs btree_gist (equality on the ids inside a GiST index). Half-open ranges `[)` let one booking
end at 11:00 and the next start at 11:00. SQLite has no exclusion constraints: there the lock of
the service (SQLite runs one writer at a time, `IMMEDIATE` transactions) is the guard.
"""

from django.db import migrations

CONSTRAINT = "booking_no_overlap"


def add_exclusion(apps, schema_editor):  # noqa: ANN001, ANN201
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE bookings_booking ADD CONSTRAINT {CONSTRAINT} EXCLUDE USING gist "
        "(dealer_id WITH =, resource_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
        "WHERE (status = 'active')"
    )


def drop_exclusion(apps, schema_editor):  # noqa: ANN001, ANN201
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE bookings_booking DROP CONSTRAINT IF EXISTS {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [("bookings", "0001_initial")]

    operations = [migrations.RunPython(add_exclusion, drop_exclusion, elidable=False)]
