from django.urls import path

from . import video_views, views

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
    # a video: the playable copy (range requests), windows' evidence, the player's tracks
    path("media/<int:pk>/proxy", video_views.proxy, name="proxy"),
    path("media/<int:pk>/chapters.vtt", video_views.chapters_vtt, name="chapters"),
    path("media/<int:pk>/metadata.vtt", video_views.metadata_vtt, name="metadata"),
    path("media/<int:pk>/shots/<int:index>/keyframe.jpg", video_views.keyframe, name="keyframe"),
    path("media/<int:pk>/shots/<int:index>/cut.png", video_views.cut, name="cut"),
    path(
        "media/<int:pk>/shots/<int:index>/heatmap.jpg",
        video_views.shot_heatmap,
        name="shot-heatmap",
    ),
    path(
        "media/<int:pk>/shots/<int:index>/tags/<int:concept_id>/heatmap.jpg",
        video_views.shot_tag_heatmap,
        name="shot-tag-heatmap",
    ),
]
