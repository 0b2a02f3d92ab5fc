from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KommunikationConfig(AppConfig):
    name = "kommunikation"
    verbose_name = _("Kommunikation")

    def ready(self) -> None:
        from kommunikation import tracking  # noqa: F401  (connects the anymail tracking receiver)
