"""URL map. Pages at the root, the REST API under /api/v1/. Uploaded files are never served
from a public path: they go through the permission-checked views of the media app."""

from accounts.views import admin_login
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from ops.views import metrics_view

api_v1 = [
    path("", include("accounts.api.urls")),
    path("", include("media.api.urls")),
    path("", include("search.api.urls")),
    path("", include("ops.api.urls")),
    path("moderation/", include("moderation.api.urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
]

urlpatterns = [
    path("", include("media.urls")),
    path("", include("search.urls")),
    path("accounts/", include("accounts.urls")),
    path("ops/", include("ops.urls")),
    path("metrics", metrics_view, name="metrics"),  # Prometheus (operators, or the token)
    path("moderation/", include("moderation.urls")),
    path("api/v1/", include((api_v1, "api"))),
    # the admin's login, behind the login lockout (listed first, so it wins the path)
    path("admin/login/", admin_login),
    path("admin/", admin.site.urls),
]

# Under /api/ these answer problem documents (JSON), elsewhere Django's HTML pages.
handler400 = "glassbox_web.problems.bad_request"
handler404 = "glassbox_web.problems.not_found"
handler500 = "glassbox_web.problems.server_error"
