from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CareConfig(AppConfig):
    name = "dealercrm.care"
    label = "care"
    verbose_name = _("Customer care")

    def ready(self) -> None:
        from . import hooks

        hooks.register()
