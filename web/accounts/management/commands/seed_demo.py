"""Create the demo user, an admin, and upload sample images and videos the way the UI does.

    manage.py seed_demo /usr/share/darknet/data/{dog,eagle,giraffe}.jpg

Idempotent: users are created once and a file whose title is already in the demo user's
library is skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.management.base import BaseCommand, CommandError
from glassbox.media.imaging import InvalidMedia
from media.actions import commands
from media.models import MediaItem

DEFAULT_PASSWORD = "glassbox-demo"


class Command(BaseCommand):
    help = "Create the demo and admin users and upload sample images and videos as the demo user."

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="*", type=Path, help="image or video files to upload")
        parser.add_argument(
            "--visibility", choices=MediaItem.Visibility.values, default=MediaItem.Visibility.PUBLIC
        )

    def handle(self, *args, paths: list[Path], visibility: str, **options) -> None:
        password = os.environ.get("GLASSBOX_DEMO_PASSWORD") or DEFAULT_PASSWORD
        demo = self._user("demo", password, superuser=False)
        self._user("admin", password, superuser=True)
        for path in paths:
            title = path.stem
            if MediaItem.objects.filter(owner=demo, title=title).exists():
                self.stdout.write(f"skip {path} (already seeded)")
                continue
            if not path.is_file():
                raise CommandError(f"{path} is not a file")
            try:
                with path.open("rb") as fh:  # streamed: a video is never read whole
                    upload = File(fh, name=path.name)
                    upload.size = path.stat().st_size
                    item = commands.create_media(demo, upload, title, visibility)
            except InvalidMedia as exc:
                raise CommandError(f"{path}: {exc.detail}") from exc
            self.stdout.write(f"uploaded {path} as media {item.pk} ({item.status})")

    def _user(self, username: str, password: str, *, superuser: bool):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is not None:
            return user
        if superuser:
            user = User.objects.create_superuser(username, f"{username}@glassbox.invalid", password)
        else:
            user = User.objects.create_user(username, f"{username}@glassbox.invalid", password)
        self.stdout.write(f"created user {username}")
        return user
