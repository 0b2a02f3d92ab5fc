from django.urls import path

from compliance import views

app_name = "compliance"

urlpatterns = [
    path("praeferenzen/<str:token>/", views.preferences, name="preferences"),
    path("abbestellen/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("einwilligung/bestaetigen/<str:token>/", views.confirm, name="confirm"),
]
