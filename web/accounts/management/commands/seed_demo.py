"""Create the demo user, an admin and a moderator, and upload sample images and videos the
way the UI does.

    manage.py seed_demo /usr/share/darknet/data/{dog,eagle,giraffe}.jpg

Besides the files named, the demo user gets a rendered contact card showing a phone number
and an e-mail address (``glassbox.moderation.samples.personal_data_card``): the
``personal-data`` policy flags it, so the moderator's review queue has work, with evidence
(``--no-card`` leaves it out).

Idempotent: users are created once and a file whose title is already in the demo user's
library is skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError
from glassbox.media.imaging import InvalidMedia
from glassbox.moderation import samples
from media.actions import commands
from media.models import MediaItem

from accounts.roles import MODERATOR, OPERATOR

DEFAULT_PASSWORD = "glassbox-demo"
CARD_TITLE = "contact card"


class Command(BaseCommand):
    help = (
        "Create the demo, admin and moderator users and upload sample images and videos (and a "
        "contact card the personal-data policy flags) as the demo user."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("paths", nargs="*", type=Path, help="image or video files to upload")
        parser.add_argument(
            "--visibility", choices=MediaItem.Visibility.values, default=MediaItem.Visibility.PUBLIC
        )
        parser.add_argument(
            "--no-card", action="store_true", help="do not upload the rendered contact card"
        )

    def handle(self, *args, paths: list[Path], visibility: str, no_card: bool, **options) -> None:
        password = os.environ.get("GLASSBOX_DEMO_PASSWORD") or DEFAULT_PASSWORD
        demo = self._user("demo", password, superuser=False)
        self._user("admin", password, superuser=True)
        # the operators' dashboard (/ops/) and /metrics: the operator role, nothing more
        self._user("operator", password, superuser=False, role=OPERATOR)
        self._user("moderator", password, superuser=False, role=MODERATOR)
        if not no_card:
            self._card(demo, visibility)
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

    def _card(self, demo, visibility: str) -> None:
        """The contact card (phone number, e-mail address) the personal-data policy flags."""
        if MediaItem.objects.filter(owner=demo, title=CARD_TITLE).exists():
            self.stdout.write("skip the contact card (already seeded)")
            return
        upload = ContentFile(samples.personal_data_card(), name="contact-card.png")
        try:
            item = commands.create_media(demo, upload, CARD_TITLE, visibility)
        except InvalidMedia as exc:
            raise CommandError(f"the contact card: {exc.detail}") from exc
        self.stdout.write(f"uploaded the contact card as media {item.pk} ({item.status})")

    def _user(self, username: str, password: str, *, superuser: bool, role: str | None = None):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is not None:
            return user
        if superuser:
            user = User.objects.create_superuser(username, f"{username}@glassbox.invalid", password)
        else:
            user = User.objects.create_user(username, f"{username}@glassbox.invalid", password)
        if role is not None:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        self.stdout.write(f"created user {username}{f' ({role})' if role else ''}")
        return user
