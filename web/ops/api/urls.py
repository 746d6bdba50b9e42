from django.urls import path

from .views import DashboardView, HealthDetailView, HealthView, ReprocessView, RetryView

urlpatterns = [
    path("health/", HealthView.as_view(), name="health"),
    path("health/detail/", HealthDetailView.as_view(), name="health-detail"),
    path("ops/dashboard/", DashboardView.as_view(), name="ops-dashboard"),
    path("ops/retry/", RetryView.as_view(), name="ops-retry"),
    path("ops/reprocess/", ReprocessView.as_view(), name="ops-reprocess"),
]
