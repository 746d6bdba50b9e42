"""Moderation's pages (the API is ``moderation.api.urls``, under /api/v1/)."""

from django.urls import path

from . import views

app_name = "moderation"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("bulk", views.bulk, name="bulk"),
    path("flags/<int:pk>/claim", views.claim, name="claim"),
    path("flags/<int:pk>/release", views.release, name="release"),
    path("flags/<int:pk>/decide", views.decide, name="decide"),
    path("flags/<int:pk>/image", views.flag_image, name="flag-image"),
    path("flags/<int:pk>/heatmap.png", views.flag_heatmap, name="flag-heatmap"),
    path("items/<int:pk>/appeal", views.appeal, name="appeal"),
    path("audit/", views.audit, name="audit"),
    path("audit.csv", views.audit_csv, name="audit-csv"),
]
