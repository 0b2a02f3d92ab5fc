from django.urls import include, path

from kommunikation import tracking, views

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
    path("t/o/<str:token>/", tracking.open_pixel, name="tracking_open"),
    path("t/c/<str:token>/", tracking.click, name="tracking_click"),
]
