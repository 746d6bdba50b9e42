from django.urls import path

from . import views

app_name = "ops"

urlpatterns = [
    path("", views.dashboard_page, name="dashboard"),
    path("health/", views.health_page, name="health"),
]
