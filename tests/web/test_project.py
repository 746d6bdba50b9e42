import io

import pytest
from django.core.management import call_command
from django.urls import reverse


@pytest.mark.django_db
def test_migrations_are_in_sync():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_schema_is_openapi(api):
    response = api.get(reverse("api:schema"), HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    body = response.json()
    assert body["openapi"].startswith("3.")
    assert "/api/v1/media/" in body["paths"] and "/api/v1/search/" in body["paths"]


def test_seed_demo_creates_users_and_is_idempotent(
    tmp_path, enqueued, django_capture_on_commit_callbacks, db
):
    from django.contrib.auth import get_user_model
    from media.models import MediaItem

    from .conftest import jpeg

    path = tmp_path / "dog.jpg"
    path.write_bytes(jpeg())
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            call_command("seed_demo", str(path), stdout=io.StringIO())
    users = get_user_model().objects
    assert users.get(username="demo").check_password("glassbox-demo")
    assert users.get(username="admin").is_superuser
    assert MediaItem.objects.filter(title="dog", visibility="public").count() == 1
    assert users.get(username="moderator").groups.filter(name="moderator").exists()
    assert MediaItem.objects.filter(title="contact card").count() == 1  # seeded once
    assert len(enqueued) == 2  # the dog and the contact card, each analysed once
