import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("service", "0003_recallcampaign_launch_progress"),
        ("vehicles", "0003_mileagereading_flag"),
    ]

    operations = [
        migrations.CreateModel(
            name="ForecastRefresh",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("last_reading_id", models.BigIntegerField(default=0)),
                ("last_repair_order_id", models.BigIntegerField(default=0)),
                ("refreshed_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "dealer",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.dealer",
                    ),
                ),
            ],
            options={
                "verbose_name": "forecast refresh",
                "verbose_name_plural": "forecast refreshes",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("dealer",), name="forecastrefresh_one_per_dealer"
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="ForecastPeerAverage",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("vehicles", models.PositiveIntegerField(default=0)),
                ("daily_km", models.FloatField()),
                ("computed_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "car_model",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="vehicles.carmodel",
                    ),
                ),
                (
                    "region",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="core.region",
                    ),
                ),
            ],
            options={
                "verbose_name": "average daily distance",
                "verbose_name_plural": "average daily distances",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("car_model", "region"), name="peeraverage_unique"
                    )
                ],
            },
        ),
    ]
