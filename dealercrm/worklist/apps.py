from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorklistConfig(AppConfig):
    name = "dealercrm.worklist"
    label = "worklist"
    verbose_name = _("Worklist")

    def ready(self) -> None:
        from dealercrm.customers.timeline import TimelineRows, register_timeline_provider

        from .models import Task
        from .timeline import task_timeline

        register_timeline_provider(task_timeline, rows=TimelineRows(Task, "created_at"))

        from dealercrm.core.workspace_panels import register_workspace_panel

        from .selectors import notices_panel

        register_workspace_panel(notices_panel)
