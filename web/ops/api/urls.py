from django.urls import path

from .views import HealthDetailView, HealthView

urlpatterns = [
    path("health/", HealthView.as_view(), name="health"),
    path("health/detail/", HealthDetailView.as_view(), name="health-detail"),
]
