"""Videos in search (Triton and Milvus faked, see conftest): a window's hit stands for its
video, the video lists its best moments, each explained and linked to the player at its
start; "find similar" from a moment finds similar shots and images."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from glassbox.clients.milvus.schema import shot_row_id
from media.models import MediaItem, SemanticProfile, Shot

from .conftest import jpeg

PROBLEM = "application/problem+json"


def f32(v) -> bytes:
    return np.asarray(v, dtype="<f4").tobytes()


@pytest.fixture
def video(alice, bank_embeddings):
    """A ready video whose second window (3-6 s) shows concept 3 (what the fake encoder
    embeds every query as) and whose first and third show concept 7."""
    item = MediaItem.objects.create(
        owner=alice,
        title="clip",
        kind=MediaItem.Kind.VIDEO,
        mime="video/mp4",
        width=320,
        height=240,
        size_bytes=10,
        duration_s=9.0,
        fps=12.0,
        status=MediaItem.Status.READY,
    )
    mean = bank_embeddings[7] * 2 + bank_embeddings[3]
    SemanticProfile.objects.create(
        item=item, vector=f32(mean / np.linalg.norm(mean)), concept_ids=[7, 3], weights=[0.6, 0.3]
    )
    for n, concept in enumerate((7, 3, 7)):
        shot = Shot(
            item=item,
            index=n,
            shot_number=n,
            start_s=3.0 * n,
            end_s=3.0 * n + 3,
            start_frame=36 * n,
            end_frame=36 * n + 36,
            cut_probability=0.97 if n else None,
            keyframe_s=3.0 * n + 1.5,
            vector=f32(bank_embeddings[concept]),
            concept_ids=[concept],
            weights=[1.0],
            appearance=f32(np.eye(8)[n]),
            caption=f"window {n}",
            cams={str(concept): [[0.5] * 7 for _ in range(7)]},
            analyzed_at="2026-01-01T00:00:00Z",
        )
        shot.keyframe.save("k.jpg", ContentFile(jpeg(64, 48)), save=False)
        shot.save()
    return item


def test_a_windows_hit_finds_its_video_with_the_matching_moment_first(api, video, fake_services):
    fake_services.index.ids = [shot_row_id(video.pk, 1)]  # only a window matched
    body = api.get(reverse("api:search"), {"q": "concept", "weaker": "true"}).json()
    (result,) = body["results"]
    assert result["item"]["id"] == video.pk
    moments = result["moments"]
    assert [m["shot"] for m in moments][0] == 1 and len(moments) == 3
    best = moments[0]
    assert (best["start_s"], best["end_s"]) == (3.0, 6.0)
    assert best["url"].endswith(f"/media/{video.pk}/#t=3")
    assert f"/media/{video.pk}/shots/1/heatmap.jpg?c=" in best["heatmap_url"]
    assert best["contributions"][0]["concept"] == "concept <3>"
    assert result["relevance"] == pytest.approx(best["relevance"])


def test_the_search_page_links_each_moment_to_the_player(alice_web, video, fake_services):
    fake_services.index.ids = [video.pk]
    page = alice_web.get(reverse("search:search"), {"q": "concept", "weaker": "true"})
    html = page.content.decode()
    assert page.status_code == 200
    assert f'href="/media/{video.pk}/#t=3"' in html and 'data-testid="moment"' in html
    assert f"?similar={video.pk}&amp;shot=1" in html


def test_an_image_result_has_no_moments(api, make_item, fake_services):
    image = make_item()
    fake_services.index.ids = [image.pk]
    (result,) = api.get(reverse("api:search"), {"q": "concept", "weaker": "true"}).json()["results"]
    assert result["moments"] == []


def test_find_similar_from_a_moment_finds_images_and_shots(api, video, make_item, fake_services):
    image = make_item(title="still", appearance=[0, 1, 0, 0, 0, 0, 0, 0])  # like window 1
    fake_services.index.ids = [image.pk, shot_row_id(video.pk, 2)]
    response = api.get(reverse("api:search-similar", args=[video.pk]), {"shot": 1})
    assert response.status_code == 200, response.content
    body = response.json()
    assert "clip, 3.0–6.0 s" in body["query"]
    assert [r["item"]["id"] for r in body["results"]] == [image.pk]  # the source video aside
    (r,) = body["results"]
    assert r["appearance"] == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize(("shot", "status"), [("99", 404), ("-1", 400), ("x", 400)])
def test_find_similar_from_a_shot_that_is_not_there_is_a_problem(
    api, video, fake_services, shot, status
):
    response = api.get(reverse("api:search-similar", args=[video.pk]), {"shot": shot})
    assert response.status_code == status and response["Content-Type"] == PROBLEM
    assert response.json()["field"] == "shot"


def test_a_private_videos_moment_is_not_a_source_for_others(bob_api, video, fake_services):
    response = bob_api.get(reverse("api:search-similar", args=[video.pk]), {"shot": 1})
    assert response.status_code == 404
