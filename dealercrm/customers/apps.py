from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "dealercrm.customers"
    label = "customers"
    verbose_name = _("Customers")

    def ready(self) -> None:
        from .models import Interaction
        from .selectors import interaction_timeline
        from .timeline import TimelineRows, register_timeline_provider

        register_timeline_provider(
            interaction_timeline, rows=TimelineRows(Interaction, "occurred_at")
        )
