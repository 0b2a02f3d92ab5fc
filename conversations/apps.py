from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = _("Konversationen")

    def ready(self) -> None:
        from conversations import webhooks  # noqa: F401  (connects anymail's inbound signal)
