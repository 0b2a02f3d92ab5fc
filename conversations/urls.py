from django.contrib.auth import views as auth_views
from django.urls import path

from conversations import views

urlpatterns = [
    path("anmelden/", views.login, name="login"),
    path("abmelden/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.inbox, name="inbox"),
    path("zaehler/", views.inbox_counts, name="inbox_counts"),
    path("konversationen/<int:pk>/", views.conversation_detail, name="conversation"),
    path("konversationen/<int:pk>/zuweisen/", views.assign, name="conversation_assign"),
    path("konversationen/<int:pk>/status/", views.set_status, name="conversation_status"),
    path("konversationen/<int:pk>/marke/", views.move_to_brand, name="conversation_brand"),
    path("konversationen/<int:pk>/prioritaet/", views.set_priority, name="conversation_priority"),
    path("konversationen/<int:pk>/ungelesen/", views.mark_unread, name="conversation_unread"),
    path("konversationen/<int:pk>/gelesen/", views.mark_read, name="conversation_read"),
    path("einstellungen/", views.inbox_settings, name="inbox_settings"),
    path("konversationen/<int:pk>/notiz/", views.add_note, name="conversation_note"),
    path("konversationen/<int:pk>/antwort/", views.reply, name="conversation_reply"),
    path(
        "konversationen/<int:pk>/antwortvorlagen/",
        views.reply_templates,
        name="conversation_reply_templates",
    ),
    path(
        "konversationen/<int:pk>/whatsapp/",
        views.whatsapp_reply,
        name="conversation_whatsapp_reply",
    ),
    path("konversationen/<int:pk>/sms/", views.sms_reply, name="conversation_sms_reply"),
    path("konversationen/<int:pk>/wiedervorlage/", views.snooze, name="conversation_snooze"),
    path("konversationen/aktionen/", views.bulk_action, name="bulk_action"),
    path("aenderungen/<uuid:batch>/rueckgaengig/", views.undo_change, name="change_undo"),
    path("konversationen/klassifizieren/", views.classify, name="classify"),
    path("konversationen/klassifizieren/anzahl/", views.classify_count, name="classify_count"),
    path(
        "klassifizierung/<uuid:batch>/rueckgaengig/",
        views.undo_classification,
        name="classification_undo",
    ),
    path("nachrichten/<int:pk>/status/", views.message_status, name="message_status"),
    path("nachrichten/<int:pk>/html/", views.message_html, name="message_html"),
    path("anhaenge/<int:pk>/", views.attachment_download, name="attachment"),
    path("anhaenge/bild/<str:token>/", views.attachment_inline, name="attachment_inline"),
]
