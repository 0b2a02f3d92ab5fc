from django.urls import path

from kommunikation import tracking

app_name = "kommunikation"

urlpatterns = [
    path("t/o/<str:token>/", tracking.open_pixel, name="open"),
    path("t/c/<str:token>/", tracking.click, name="click"),
]
