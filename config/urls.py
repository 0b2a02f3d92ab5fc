from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from conversations import whatsapp
from conversations.webhooks import anymail_webhook_urls
from kommunikation.letters.webhook import pingen_webhook
from kommunikation.sms_webhook import messagebird_webhook, sevenio_webhook

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("webhooks/pingen/<slug:brand>/", pingen_webhook, name="pingen_webhook"),
    path("webhooks/whatsapp/<slug:slug>/", whatsapp.webhook, name="whatsapp_webhook"),
    # SMS (issue 11 §2): MessageBird signs its callbacks, seven.io's URL carries a secret
    path(
        "webhooks/sms/messagebird/<slug:brand>/",
        messagebird_webhook,
        name="sms_webhook_messagebird",
    ),
    path(
        "webhooks/sms/sevenio/<slug:brand>/<str:secret>/",
        sevenio_webhook,
        name="sms_webhook_sevenio",
    ),
    path("webhooks/", include(anymail_webhook_urls())),
    path("api/v1/", include("kommunikation.events.urls")),
    path("", include("compliance.urls")),
    path("", include("kommunikation.urls")),
    path("", include("conversations.urls")),
]
