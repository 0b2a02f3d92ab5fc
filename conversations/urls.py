from django.contrib.auth import views as auth_views
from django.urls import path

from conversations import views

urlpatterns = [
    path("anmelden/", auth_views.LoginView.as_view(), name="login"),
    path("abmelden/", auth_views.LogoutView.as_view(), name="logout"),
    path("", views.inbox, name="inbox"),
]
