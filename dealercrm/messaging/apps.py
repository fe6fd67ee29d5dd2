from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "dealercrm.messaging"
    label = "messaging"
    verbose_name = _("Messaging")

    def ready(self) -> None:
        from dealercrm.customers.timeline import TimelineRows, register_timeline_provider
        from dealercrm.worklist.services import register_task_completion_hook

        from .models import Message
        from .task_hooks import TASK_SOURCE_KIND, message_task_closed
        from .timeline import message_timeline

        register_timeline_provider(message_timeline, rows=TimelineRows(Message, "created_at"))
        # A phone message is a call task; how the call ended settles the message.
        register_task_completion_hook(TASK_SOURCE_KIND, message_task_closed)
