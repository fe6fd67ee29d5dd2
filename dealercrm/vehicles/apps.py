from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VehiclesConfig(AppConfig):
    name = "dealercrm.vehicles"
    label = "vehicles"
    verbose_name = _("Vehicles")

    def ready(self) -> None:
        from dealercrm.customers.timeline import register_timeline_provider

        from .timeline import mileage_timeline, mileage_times, ownership_timeline, ownership_times

        register_timeline_provider(ownership_timeline, rows=ownership_times)
        register_timeline_provider(mileage_timeline, rows=mileage_times)
