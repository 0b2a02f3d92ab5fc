from django.urls import path

from kommunikation import tracking, views

urlpatterns = [
    path("kunden/suche/", views.customer_search, name="customer_search"),
    path("kunden/<int:pk>/", views.customer_detail, name="customer"),
    path("t/o/<str:token>/", tracking.open_pixel, name="tracking_open"),
    path("t/c/<str:token>/", tracking.click, name="tracking_click"),
]
