from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "dealercrm.messaging"
    label = "messaging"
    verbose_name = _("Messaging")

    def ready(self) -> None:
        from dealercrm.customers.timeline import register_timeline_provider

        from .timeline import message_timeline

        register_timeline_provider(message_timeline)
