from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KommunikationConfig(AppConfig):
    name = "kommunikation"
    verbose_name = _("Kommunikation")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from kommunikation.roles import sync_roles_after_migrate

        post_migrate.connect(sync_roles_after_migrate, sender=self)

        from kommunikation.outbox import queue_template_test_send
        from templates_app.signals import test_send_requested

        test_send_requested.connect(queue_template_test_send, dispatch_uid="kk-template-test")
        from conversations.signals import message_ingested
        from kommunikation import tracking  # noqa: F401  (connects the anymail tracking receiver)
        from kommunikation.events.inbound import queue_inbound_events

        message_ingested.connect(queue_inbound_events, dispatch_uid="kk-inbound-events")
        from kommunikation.automation import tasks as automation_tasks
        from kommunikation.events.services import event_recorded

        event_recorded.connect(automation_tasks.on_event_recorded, dispatch_uid="kk-rules")
        automation_tasks.connect_rule_cache()
        from conversations.signals import outbound_status_recorded
        from kommunikation.fallback import on_status_recorded

        # issue 11 §7: delivered ends a fallback wait, failed after sending tries the next channel
        outbound_status_recorded.connect(on_status_recorded, dispatch_uid="kk-fallback")
