"""URL map. Pages at the root, the REST API under /api/v1/. Uploaded files are never served
from a public path: they go through the permission-checked views of the media app."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("media.api.urls")),
    path("", include("search.api.urls")),
    path("", include("ops.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]

urlpatterns = [
    path("", include("media.urls")),
    path("", include("search.urls")),
    path("accounts/", include("accounts.urls")),
    path("ops/", include("ops.urls")),
    path("api/v1/", include((api_v1, "api"))),
    path("admin/", admin.site.urls),
]
