from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedbackConfig(AppConfig):
    name = "dealercrm.feedback"
    label = "feedback"
    verbose_name = _("Complaints and satisfaction")

    def ready(self) -> None:
        from dealercrm.customers.timeline import register_timeline_provider

        from .timeline import complaint_timeline

        register_timeline_provider(complaint_timeline)
