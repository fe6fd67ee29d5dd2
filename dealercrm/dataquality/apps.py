from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DataQualityConfig(AppConfig):
    name = "dealercrm.dataquality"
    label = "dataquality"
    verbose_name = _("Data quality")
