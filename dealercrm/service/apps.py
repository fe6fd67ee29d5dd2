from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "dealercrm.service"
    label = "service"
    verbose_name = _("After-sales service")

    def ready(self) -> None:
        from . import hooks

        hooks.register()
