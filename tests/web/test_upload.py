import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from glassbox.config import get_settings
from media.actions import commands
from media.models import MediaItem
from PIL import Image

from .conftest import jpeg

PROBLEM = "application/problem+json"


def upload(api, data: bytes, name: str = "photo.jpg", **fields):
    file = SimpleUploadedFile(name, data, content_type="image/jpeg")
    return api.post(reverse("api:media-list"), {"file": file, **fields}, format="multipart")


def stored_files(media_root: Path) -> list[Path]:
    return [p for p in media_root.rglob("*") if p.is_file()] if media_root.exists() else []


def test_upload_writes_a_queued_row_and_enqueues_once_on_commit(
    api, alice, enqueued, media_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = upload(api, jpeg(80, 60), title="  my   cat ", visibility="public")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert body["title"] == "my cat"
    assert (body["width"], body["height"], body["mime"]) == (80, 60, "image/jpeg")
    item = MediaItem.objects.get()
    assert item.owner == alice and item.visibility == "public"
    assert len(callbacks) == 1
    assert enqueued == [("media.analyze", item.pk)]
    assert item.file.name.startswith("originals/") and item.file.name.endswith(".jpg")
    assert len(stored_files(media_root)) == 2  # original + thumbnail


def test_upload_does_not_enqueue_before_commit(api, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        assert upload(api, jpeg()).status_code == 201
    assert enqueued == []


def _truncated() -> bytes:
    data = jpeg(400, 300)
    return data[: len(data) // 2]


def _bomb() -> bytes:
    out = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(out, format="PNG")
    return out.getvalue()


def _too_wide() -> bytes:
    out = io.BytesIO()
    Image.new("L", (13_000, 2)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("case", "make", "status", "code"),
    [
        ("empty", lambda: b"", 400, "empty_file"),
        ("truncated", _truncated, 400, "truncated"),
        ("text-as-jpg", lambda: b"hello, I am not a picture\n" * 20, 415, "not_an_image"),
        ("decompression-bomb", _bomb, 413, "decompression_bomb"),
        ("too-wide", _too_wide, 413, "dimensions_too_large"),
    ],
)
def test_bad_upload_is_rejected_as_problem_and_nothing_is_stored(
    api, enqueued, media_root, case, make, status, code
):
    response = upload(api, make())
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["status"] == status and body["type"].endswith(code)
    assert body["field"] == "file" and body["title"] and body["detail"]
    assert not MediaItem.objects.exists()
    assert stored_files(media_root) == []
    assert enqueued == []


def test_oversize_upload_is_rejected_and_nothing_is_stored(api, monkeypatch, media_root, enqueued):
    import dataclasses

    small = dataclasses.replace(get_settings(), max_upload_bytes=500)
    monkeypatch.setattr(commands, "get_settings", lambda: small)
    response = upload(api, jpeg(200, 200, color=(1, 2, 3)) + b"\0" * 600)
    assert response.status_code == 413
    assert response.json()["type"].endswith("too_large")
    assert not MediaItem.objects.exists() and stored_files(media_root) == []


def test_request_body_far_over_the_limit_is_refused_unread(api, monkeypatch):
    import dataclasses

    from media.api import views

    # the larger of the image and video limits bounds the body (its kind is not known yet)
    small = dataclasses.replace(get_settings(), max_upload_bytes=10, max_video_bytes=20)
    monkeypatch.setattr(views, "get_settings", lambda: small)
    monkeypatch.setattr(views, "UPLOAD_OVERHEAD_BYTES", 100)
    response = upload(api, jpeg(300, 300))
    assert response.status_code == 413 and response["Content-Type"] == PROBLEM
    assert "the limit is 20 bytes" in response.json()["detail"]


def test_upload_without_file_names_the_field(api):
    response = api.post(reverse("api:media-list"), {"title": "x"}, format="multipart")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert response.json()["field"] == "file"


def test_upload_with_unknown_visibility_names_the_field(api):
    response = upload(api, jpeg(), visibility="everyone")
    assert response.status_code == 400 and response.json()["field"] == "visibility"
    assert not MediaItem.objects.exists()


def test_upload_page_form_without_javascript(
    alice_web, enqueued, django_capture_on_commit_callbacks
):
    file = SimpleUploadedFile("x.jpg", jpeg(), content_type="image/jpeg")
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_web.post(
            reverse("media:upload"), {"file": file, "title": "", "visibility": "private"}
        )
    item = MediaItem.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "media:detail", args=[item.pk]
    )
    assert item.title == "x" and len(enqueued) == 1


def test_upload_page_shows_the_problem(alice_web):
    file = SimpleUploadedFile("x.jpg", b"not an image", content_type="image/jpeg")
    response = alice_web.post(reverse("media:upload"), {"file": file, "visibility": "private"})
    assert response.status_code == 415
    assert b"not an image we can read" in response.content
    assert not MediaItem.objects.exists()


def test_upload_page_has_stable_hooks(alice_web):
    html = alice_web.get(reverse("media:upload")).content.decode()
    for hook in ('id="upload-form"', 'id="file"', 'id="upload-progress"'):
        assert hook in html


MIB = 1024 * 1024


def padded_jpeg(total_bytes: int) -> bytes:
    """A valid JPEG followed by zeros up to ``total_bytes``."""
    data = jpeg(64, 48)
    return data + b"\0" * (total_bytes - len(data))


def small_limit(monkeypatch, max_upload_bytes: int, *modules) -> None:
    import dataclasses

    small = dataclasses.replace(get_settings(), max_upload_bytes=max_upload_bytes)
    for module in modules:
        monkeypatch.setattr(module, "get_settings", lambda: small)


def test_a_26_mib_upload_is_refused_with_its_real_size_in_the_api(api, media_root):
    limit = get_settings().max_upload_bytes
    response = upload(api, padded_jpeg(26 * MIB))
    assert response.status_code == 413 and response["Content-Type"] == PROBLEM
    body = response.json()
    assert body["type"].endswith("too_large") and body["field"] == "file"
    assert body["detail"] == f"The file is 26.0 MB; the limit is {limit / MIB:.1f} MB."
    assert not MediaItem.objects.exists() and stored_files(media_root) == []


def test_a_26_mib_upload_is_refused_with_its_real_size_on_the_page(alice_web, media_root):
    limit = get_settings().max_upload_bytes
    file = SimpleUploadedFile("big.jpg", padded_jpeg(26 * MIB), content_type="image/jpeg")
    response = alice_web.post(reverse("media:upload"), {"file": file, "visibility": "private"})
    assert response.status_code == 413
    assert f"The file is 26.0 MB; the limit is {limit / MIB:.1f} MB." in response.content.decode()
    assert not MediaItem.objects.exists() and stored_files(media_root) == []


def test_an_upload_read_only_to_the_limit_names_its_real_size(api, alice_web, monkeypatch):
    # Within the API's framing allowance, so the file itself is read, one byte past the limit.
    small_limit(monkeypatch, 1 * MIB, commands)
    expected = "The file is 1.5 MB; the limit is 1.0 MB."
    response = upload(api, padded_jpeg(3 * MIB // 2))
    assert response.status_code == 413 and response.json()["detail"] == expected
    file = SimpleUploadedFile("big.jpg", padded_jpeg(3 * MIB // 2), content_type="image/jpeg")
    page = alice_web.post(reverse("media:upload"), {"file": file, "visibility": "private"})
    assert page.status_code == 413 and expected in page.content.decode()
    assert not MediaItem.objects.exists()


def test_a_query_image_over_the_limit_is_refused_with_its_real_size(api, alice_web, monkeypatch):
    from search.api import views

    small_limit(monkeypatch, 1 * MIB, views)
    expected = "The file is 1.5 MB; the limit is 1.0 MB."
    file = SimpleUploadedFile("big.jpg", padded_jpeg(3 * MIB // 2), content_type="image/jpeg")
    response = api.post(reverse("api:search-by-image"), {"file": file}, format="multipart")
    assert response.status_code == 413 and response["Content-Type"] == PROBLEM
    assert response.json()["detail"] == expected
    file.seek(0)
    page = alice_web.post(reverse("search:by-image"), {"file": file})
    assert page.status_code == 413 and expected in page.content.decode()


def test_form_fields_over_the_memory_limit_are_a_413_problem_not_an_html_error(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = upload(api, jpeg(), title="t" * 5000)
    assert response.status_code == 413 and response["Content-Type"] == PROBLEM
    assert response.json()["type"].endswith("too_large")
    assert not MediaItem.objects.exists()


def test_a_large_upload_under_the_limit_is_accepted(api, django_capture_on_commit_callbacks):
    # Far above FILE_UPLOAD_MAX_MEMORY_SIZE and DATA_UPLOAD_MAX_MEMORY_SIZE: spilled to disk.
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, padded_jpeg(24 * MIB))
    assert response.status_code == 201, response.content
    assert MediaItem.objects.get().size_bytes == 24 * MIB


def exif_turned_jpeg(width: int, height: int, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 140, 30)).save(out, format="JPEG", exif=exif)
    return out.getvalue()


@pytest.mark.parametrize("orientation", [6, 8])
def test_an_exif_turned_photo_is_stored_and_reported_at_its_displayed_size(
    api, alice_web, orientation
):
    response = upload(api, exif_turned_jpeg(80, 60, orientation))  # stored 80x60, shown 60x80
    assert response.status_code == 201, response.content
    assert (response.json()["width"], response.json()["height"]) == (60, 80)
    item = MediaItem.objects.get()
    assert (item.width, item.height) == (60, 80)
    detail = api.get(reverse("api:media-detail", args=[item.pk])).json()
    assert (detail["width"], detail["height"]) == (60, 80)
    assert "60×80" in alice_web.get(reverse("media:detail", args=[item.pk])).content.decode()
    with item.thumbnail.open("rb") as thumb:
        assert Image.open(thumb).size == (60, 80)  # the thumbnail is upright too
