from django.urls import path

from kommunikation.events import views

urlpatterns = [
    path("events", views.post_event, name="api_events"),
    path("events/batch", views.post_events_batch, name="api_events_batch"),
    path("devices", views.post_device, name="api_devices"),
    path("devices/retire", views.post_device_retire, name="api_devices_retire"),
    path("openapi.json", views.openapi_json, name="api_openapi"),
]
