from django.urls import include, path

from kommunikation import tracking, views
from kommunikation.calls import views as call_views
from kommunikation.letters import views as letter_views

urlpatterns = [
    path("kunden/suche/", views.customer_search, name="customer_search"),
    path("kunden/<int:pk>/", views.customer_detail, name="customer"),
    # the dialog's "Neuen Kunden anlegen": a form prefilled from the conversation's sender
    path(
        "konversationen/<int:pk>/neuer-kontakt/",
        views.customer_new_form,
        name="conversation_new_customer",
    ),
    path("kunden/<int:pk>/kontaktdaten/", views.customer_edit, name="customer_edit"),
    path("kunden/<int:pk>/anschrift/", views.customer_address, name="customer_address"),
    path("kunden/<int:pk>/kontaktwege/", views.customer_contact_add, name="customer_contact_add"),
    path(
        "kunden/<int:pk>/kontaktwege/<int:point_pk>/",
        views.customer_contact_change,
        name="customer_contact_change",
    ),
    path(
        "kunden/<int:pk>/kontaktwege/<int:point_pk>/entfernen/",
        views.customer_contact_remove,
        name="customer_contact_remove",
    ),
    path("kunden/<int:pk>/nachricht/", views.customer_message, name="customer_message"),
    path("kunden/<int:pk>/praeferenzen/", views.customer_preferences, name="customer_preferences"),
    path("kunden/<int:pk>/sperren/", views.customer_block, name="customer_block"),
    path(
        "kunden/<int:pk>/entsperren/<int:suppression_pk>/",
        views.customer_unblock,
        name="customer_unblock",
    ),
    path("", include("kommunikation.automation.urls")),
    path("briefe/druck/", letter_views.print_page, name="letter_print"),
    path("briefe/druck/<int:pk>/pdf/", letter_views.batch_download, name="letter_print_batch"),
    # call tasks (issue 11 §4)
    path("aufgaben/", call_views.call_tasks, name="call_tasks"),
    path("aufgaben/<int:pk>/ergebnis/", call_views.call_task_outcome, name="call_task_outcome"),
    path("aufgaben/<int:pk>/zuweisen/", call_views.call_task_assign, name="call_task_assign"),
    path("t/o/<str:token>/", tracking.open_pixel, name="tracking_open"),
    path("t/c/<str:token>/", tracking.click, name="tracking_click"),
    path("t/w/<str:token>/", tracking.invite, name="tracking_invite"),
]
