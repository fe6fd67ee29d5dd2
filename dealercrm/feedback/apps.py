from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FeedbackConfig(AppConfig):
    name = "dealercrm.feedback"
    label = "feedback"
    verbose_name = _("Complaints and satisfaction")

    def ready(self) -> None:
        from dealercrm.customers.timeline import TimelineRows, register_timeline_provider

        from .models import Complaint
        from .services import alerts, scores
        from .survey_events import register_response_listener
        from .survey_timeline import survey_timeline, survey_times
        from .timeline import complaint_timeline

        register_timeline_provider(complaint_timeline, rows=TimelineRows(Complaint, "created_at"))
        register_timeline_provider(survey_timeline, rows=survey_times)
        # The rollup first, so a failing alert never leaves the dashboard behind.
        register_response_listener(scores.on_response_recorded)
        register_response_listener(alerts.on_response_recorded)
