from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "dealercrm.core"
    label = "core"
    verbose_name = _("Organisation")

    def ready(self) -> None:
        from . import user_cache

        user_cache.connect()
