from django.urls import path

from kommunikation.automation import views

urlpatterns = [
    path("automatisierung/", views.overview, name="automation"),
    path("automatisierung/ereignisse/", views.event_log, name="automation_events"),
    path("automatisierung/ereignisse/<int:pk>/", views.event_detail, name="automation_event"),
    path("automatisierung/regeln/<int:pk>/", views.rule_detail, name="automation_rule"),
    path(
        "automatisierung/regeln/<int:pk>/probelauf/",
        views.rule_dry_run,
        name="automation_rule_dry_run",
    ),
    path(
        "kunden/<int:pk>/geplant/",
        views.customer_calendar,
        name="automation_customer_calendar",
    ),
]
