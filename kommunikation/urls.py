from django.urls import include, path

from kommunikation import tracking, views
from kommunikation.letters import views as letter_views

urlpatterns = [
    path("kunden/suche/", views.customer_search, name="customer_search"),
    path("kunden/<int:pk>/", views.customer_detail, name="customer"),
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
    path("t/o/<str:token>/", tracking.open_pixel, name="tracking_open"),
    path("t/c/<str:token>/", tracking.click, name="tracking_click"),
]
