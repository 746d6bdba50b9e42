import pytest
from django.urls import reverse
from media.models import MediaItem


def file_urls(item) -> list[str]:
    tag = item.tags.first()
    return [
        reverse("media:detail", args=[item.pk]),
        reverse("media:original", args=[item.pk]),
        reverse("media:thumbnail", args=[item.pk]),
        reverse("media:tag-heatmap", args=[item.pk, tag.pk]),
        reverse("media:heatmap", args=[item.pk]) + "?c=3:0.5",
    ]


def test_private_item_is_404_for_another_user_everywhere(make_item, bob_web, bob_api):
    item = make_item(visibility="private")
    for url in file_urls(item):
        assert bob_web.get(url).status_code == 404, url
    for name in ("api:media-detail", "api:media-retry"):
        method = bob_api.get if name == "api:media-detail" else bob_api.post
        response = method(reverse(name, args=[item.pk]))
        assert (
            response.status_code == 404 and response["Content-Type"] == "application/problem+json"
        )
    assert bob_api.delete(reverse("api:media-detail", args=[item.pk])).status_code == 404
    assert (
        bob_api.patch(
            reverse("api:media-detail", args=[item.pk]), {"visibility": "public"}
        ).status_code
        == 404
    )
    for name in ("media:visibility", "media:delete", "media:retry"):
        assert (
            bob_web.post(reverse(name, args=[item.pk]), {"visibility": "public"}).status_code == 404
        )
    assert MediaItem.objects.get(pk=item.pk).visibility == "private"


def test_private_items_never_appear_in_another_users_lists(make_item, bob, bob_web, bob_api):
    secret = make_item(visibility="private", title="secret-title")
    shared = make_item(visibility="public", title="shared-title")
    own = make_item(owner=bob, visibility="private", title="bobs-own")
    ids = [row["id"] for row in bob_api.get(reverse("api:media-list")).json()["results"]]
    assert sorted(ids) == sorted([shared.pk, own.pk])
    page = bob_web.get(reverse("media:library")).content.decode()
    assert "secret-title" not in page and "shared-title" in page and "bobs-own" in page
    statuses = bob_api.get(
        reverse("api:media-statuses"), {"ids": f"{secret.pk},{shared.pk}"}
    ).json()
    assert [row["id"] for row in statuses] == [shared.pk]


def test_public_item_and_its_files_are_visible_to_another_user(make_item, bob_web, bob_api):
    item = make_item(visibility="public")
    for url in file_urls(item):
        assert bob_web.get(url).status_code == 200, url
    assert bob_api.get(reverse("api:media-detail", args=[item.pk])).status_code == 200


def test_only_the_owner_may_change_or_delete_a_public_item(make_item, bob_api):
    item = make_item(visibility="public")
    url = reverse("api:media-detail", args=[item.pk])
    assert bob_api.patch(url, {"visibility": "private"}).status_code == 403
    assert bob_api.delete(url).status_code == 403
    assert bob_api.post(reverse("api:media-retry", args=[item.pk])).status_code == 403
    assert MediaItem.objects.filter(pk=item.pk, visibility="public").exists()


@pytest.mark.django_db
def test_visible_to_is_empty_for_anonymous(make_item):
    from django.contrib.auth.models import AnonymousUser

    make_item(visibility="public")
    assert not MediaItem.objects.visible_to(AnonymousUser()).exists()
