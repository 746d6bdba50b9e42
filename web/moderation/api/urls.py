"""The moderation API, under /api/v1/moderation/ (names ``api:moderation-...``)."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .views import AuditListView, FlagViewSet, PolicyListView

router = SimpleRouter()
router.register("flags", FlagViewSet, basename="moderation-flag")

urlpatterns = [
    *router.urls,
    path("policies/", PolicyListView.as_view(), name="moderation-policies"),
    path("audit/", AuditListView.as_view(), name="moderation-audit"),
]
