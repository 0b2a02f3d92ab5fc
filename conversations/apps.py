from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class ConversationsConfig(AppConfig):
    name = "conversations"
    verbose_name = _("Konversationen")

    def ready(self) -> None:
        from conversations import webhooks  # noqa: F401  (connects anymail's inbound signal)
        from conversations.whatsapp import forget_accounts
        from kommunikation.models import BusinessEntity, WhatsAppNumber

        # the WhatsApp webhook keeps the numbers it looked up (conversations.whatsapp)
        for model in (WhatsAppNumber, BusinessEntity):
            for signal in (post_save, post_delete):
                signal.connect(forget_accounts, sender=model, dispatch_uid=f"wa-{model.__name__}")
