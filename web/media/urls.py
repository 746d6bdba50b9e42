from django.urls import path

from . import views

app_name = "media"

urlpatterns = [
    path("", views.library, name="library"),
    path("upload/", views.upload, name="upload"),
    path("media/<int:pk>/", views.detail, name="detail"),
    path("media/<int:pk>/visibility", views.change_visibility, name="visibility"),
    path("media/<int:pk>/delete", views.delete, name="delete"),
    path("media/<int:pk>/retry", views.retry, name="retry"),
    path("media/<int:pk>/original", views.original, name="original"),
    path("media/<int:pk>/thumbnail", views.thumbnail, name="thumbnail"),
    path("media/<int:pk>/tags/<int:tag_id>/heatmap.png", views.tag_heatmap, name="tag-heatmap"),
    path("media/<int:pk>/heatmap.png", views.query_heatmap, name="heatmap"),
]
