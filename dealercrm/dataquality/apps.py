from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DataQualityConfig(AppConfig):
    name = "dealercrm.dataquality"
    label = "dataquality"
    verbose_name = _("Data quality")

    def ready(self) -> None:
        # Export kinds register themselves on import: a worker process must know them all.
        from .services import exports  # noqa: F401
