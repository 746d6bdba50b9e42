from django.urls import path

from .views import ByImageView, SearchView, SimilarView

urlpatterns = [
    path("search/", SearchView.as_view(), name="search"),
    path("search/similar/<int:pk>/", SimilarView.as_view(), name="search-similar"),
    path("search/by-image/", ByImageView.as_view(), name="search-by-image"),
]
