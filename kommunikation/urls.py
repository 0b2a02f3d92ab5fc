from django.urls import path

from kommunikation import views

urlpatterns = [
    path("kunden/suche/", views.customer_search, name="customer_search"),
    path("kunden/<int:pk>/", views.customer_detail, name="customer"),
]
