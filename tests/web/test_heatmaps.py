import pytest
from django.urls import reverse
from media.heatmaps import BadHeatmapParameter, parse_terms

PNG = b"\x89PNG"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "3",
        "3:",
        ":0.5",
        "a:1",
        "3:0.5,",
        "3:nan",
        "3:inf",
        "3:1:2",
        "3:0.5;4:1",
        ",".join(["1:1"] * 17),
    ],
)
def test_malformed_heatmap_parameter_is_rejected(raw):
    with pytest.raises(BadHeatmapParameter):
        parse_terms(raw)


def test_heatmap_parameter_parses_terms():
    assert parse_terms("207:0.41, 3:1e-3,5:-0.2") == [(207, 0.41), (3, 0.001), (5, -0.2)]


@pytest.mark.parametrize("query", ["", "?c=", "?c=abc", "?c=3:x", "?c=3:0.5,%3Cscript%3E"])
def test_malformed_heatmap_query_is_400(alice_web, make_item, query):
    item = make_item()
    response = alice_web.get(reverse("media:heatmap", args=[item.pk]) + query)
    assert response.status_code == 400


def test_query_heatmap_is_a_png(alice_web, make_item):
    item = make_item()
    response = alice_web.get(reverse("media:heatmap", args=[item.pk]) + "?c=3:0.4,5:0.1,999:1")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    assert response.content.startswith(PNG)


def test_tag_heatmap_is_a_png_and_404_for_a_foreign_tag(alice_web, make_item):
    item, other = make_item(), make_item()
    tag = item.tags.first()
    ok = alice_web.get(reverse("media:tag-heatmap", args=[item.pk, tag.pk]))
    assert ok.status_code == 200 and ok.content.startswith(PNG)
    assert alice_web.get(reverse("media:tag-heatmap", args=[other.pk, tag.pk])).status_code == 404


def test_original_and_thumbnail_are_served_with_their_types(alice_web, make_item):
    item = make_item()
    original = alice_web.get(reverse("media:original", args=[item.pk]))
    assert original.status_code == 200 and original["Content-Type"] == "image/jpeg"
    assert original["X-Content-Type-Options"] == "nosniff"
    thumb = alice_web.get(reverse("media:thumbnail", args=[item.pk]))
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
