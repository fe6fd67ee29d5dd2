"""Indexes the care engine's daily queries need on other apps' tables (each starts with the
dealer, like every index of a dealer-owned table): the rules find the day's cars and customers
by date through them instead of reading every row of a dealer each morning.

Plain CREATE INDEX IF NOT EXISTS, the same on SQLite and PostgreSQL; written here, not in the
owning apps, because only the care engine reads these columns this way.
"""

from django.db import migrations

INDEXES = (
    ("care_vehicle_delivery", "vehicles_vehicle", "dealer_id, delivery_date"),
    ("care_vehicle_purchase", "vehicles_vehicle", "dealer_id, purchase_date"),
    ("care_vehicle_warranty", "vehicles_vehicle", "dealer_id, warranty_end"),
    ("care_customer_birthday", "customers_customer", "dealer_id, birthday"),
    (
        "care_customer_lunar_birthday",
        "customers_customer",
        "dealer_id, lunar_birthday_month, lunar_birthday_day",
    ),
    ("care_servicestate_reading", "service_vehicleservicestate", "dealer_id, last_reading_on"),
)


class Migration(migrations.Migration):
    dependencies = [
        ("care", "0001_initial"),
        ("customers", "0003_customerphone_wrong_number_reported_at"),
        ("service", "0001_initial"),
        ("vehicles", "0003_mileagereading_flag"),
    ]

    operations = [
        migrations.RunSQL(
            sql=f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})",
            reverse_sql=f"DROP INDEX IF EXISTS {name}",
        )
        for name, table, columns in INDEXES
    ]
