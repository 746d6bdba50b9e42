"""What a user asks for: upload, delete, change visibility, retry.

Uploads are validated before anything touches the disk, stored, written as ``queued`` and
handed to the worker by id, never by content. Every job an action asks for is written to the
outbox (``jobs.outbox``) in the action's own transaction: a broker that is down delays the job,
never loses it nor fails the item.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from glassbox.config import Settings, get_settings
from glassbox.media import imaging, video, video_proxy
from glassbox.media.video import VideoDecodeError
from jobs import outbox

from ..models import MediaItem
from . import lifecycle

logger = logging.getLogger(__name__)

THUMBNAIL_SIDE = 512
FORMAT_EXT = {
    "JPEG": "jpg",
    "PNG": "png",
    "WEBP": "webp",
    "GIF": "gif",
    "BMP": "bmp",
    "TIFF": "tif",
}


class ActionNotAllowed(Exception):
    """The item is in a state where this action makes no sense (answered as 409)."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def create_media(
    owner, uploaded_file: UploadedFile, title: str = "", visibility: str = "private"
) -> MediaItem:
    """Validate, store and enqueue one upload: an image or a video, told apart by content.
    Raises ``imaging.InvalidMedia`` when the file is unacceptable, in which case nothing is
    stored."""
    if visibility not in MediaItem.Visibility.values:
        raise ValueError(f"unknown visibility {visibility!r}")
    cfg = get_settings()
    uploaded_file.seek(0)
    head = uploaded_file.read(video.SNIFF_BYTES)
    uploaded_file.seek(0)
    if video.sniff_kind(head) == "video":
        item = _video_item(owner, uploaded_file, cfg)
    else:
        item = _image_item(owner, uploaded_file, cfg)
    item.title = _clean_title(title, uploaded_file.name or "")
    item.visibility = visibility
    try:
        with transaction.atomic():
            item.save()
            _queue_analysis(item.pk)
    except BaseException:
        _delete_files(item)
        raise
    return item


def _image_item(owner, uploaded_file: UploadedFile, cfg: Settings) -> MediaItem:
    data = _read_upload(uploaded_file, cfg)
    info = imaging.inspect_upload(data, cfg)
    try:
        thumbnail = imaging.thumbnail_jpeg(imaging.decode_rgb(data), THUMBNAIL_SIDE)
    except (OSError, ValueError, SyntaxError) as exc:
        raise imaging.InvalidMedia("corrupt", "The image data is corrupt.", 400) from exc
    item = MediaItem(
        owner=owner,
        kind=MediaItem.Kind.IMAGE,
        mime=info.mime,
        width=info.width,
        height=info.height,
        size_bytes=len(data),
        status=MediaItem.Status.QUEUED,
    )
    item.file.save(f"original.{FORMAT_EXT.get(info.format, 'bin')}", ContentFile(data), save=False)
    item.thumbnail.save("thumbnail.jpg", ContentFile(thumbnail), save=False)
    return item


def _video_item(owner, uploaded_file: UploadedFile, cfg: Settings) -> MediaItem:
    """Probe the upload where it lies (Django spills large uploads to a temporary file; it
    is never read whole into memory), then store it and a poster frame as its thumbnail."""
    size = uploaded_file.size or 0
    if size > cfg.max_video_bytes:
        raise imaging.too_large(cfg.max_video_bytes, size)
    with _on_disk(uploaded_file) as path:
        info = video.probe_video(path, cfg)
        try:
            poster = video_proxy.poster_jpeg(path, THUMBNAIL_SIDE)
        except VideoDecodeError as exc:
            raise imaging.InvalidMedia("corrupt", str(exc), 400) from exc
    item = MediaItem(
        owner=owner,
        kind=MediaItem.Kind.VIDEO,
        mime=info.mime,
        width=info.width,
        height=info.height,
        size_bytes=size,
        duration_s=round(info.duration_s, 3),
        fps=round(info.fps, 3),
        frame_count=info.frame_count,
        variable_frame_rate=info.variable_frame_rate,
        status=MediaItem.Status.QUEUED,
    )
    uploaded_file.seek(0)
    item.file.save(f"original.{info.container}", File(uploaded_file), save=False)
    item.thumbnail.save("thumbnail.jpg", ContentFile(poster), save=False)
    return item


@contextmanager
def _on_disk(uploaded_file: UploadedFile) -> Iterator[str]:
    """A path to the upload's bytes: Django's temporary file, or a copy of a small upload
    held in memory."""
    if hasattr(uploaded_file, "temporary_file_path"):
        yield uploaded_file.temporary_file_path()
        return
    with tempfile.NamedTemporaryFile(prefix="glassbox-upload-", suffix=".bin") as tmp:
        uploaded_file.seek(0)
        for chunk in uploaded_file.chunks():
            tmp.write(chunk)
        tmp.flush()
        yield tmp.name


def retry_media(item: MediaItem) -> MediaItem:
    """Queue a failed item, or one whose worker was lost (its lease expired), for another
    analysis."""
    with transaction.atomic():
        locked = MediaItem.objects.select_for_update().get(pk=item.pk)
        stranded = locked.lease_expired(timezone.now())
        if locked.status != MediaItem.Status.FAILED and not stranded:
            raise ActionNotAllowed(
                "not_failed",
                f"Only failed items, or items whose worker was lost, can be retried; "
                f"this one is {locked.status}.",
            )
        locked.status = MediaItem.Status.QUEUED
        locked.failure_reason = ""
        locked.interruptions = 0
        locked.lease_owner, locked.lease_expires = "", None
        locked.save(
            update_fields=[
                "status",
                "failure_reason",
                "interruptions",
                "lease_owner",
                "lease_expires",
                "updated",
            ]
        )
        _queue_analysis(locked.pk)
    return locked


def set_visibility(item: MediaItem, visibility: str) -> MediaItem:
    """Change who may see an item and bring the search index in step (through a task)."""
    if visibility not in MediaItem.Visibility.values:
        raise ValueError(f"unknown visibility {visibility!r}")
    if item.visibility == visibility:
        return item
    with transaction.atomic():
        item.visibility = visibility
        indexed = item.status == MediaItem.Status.READY
        item.needs_reindex = indexed
        item.save(update_fields=["visibility", "needs_reindex", "updated"])
        if indexed:  # the reconciler re-syncs it if the index cannot be reached
            outbox.enqueue(lifecycle.INDEX_TASK, item.pk)
    return item


def delete_media(item: MediaItem) -> None:
    """Delete the row and its files, then drop it from the search index (through a task)."""
    item_id = item.pk
    keyframes = [s.keyframe for s in item.shots.all() if s.keyframe]
    with transaction.atomic():
        item.delete()
        transaction.on_commit(partial(_delete_files, item, keyframes))
        # The reconciler also removes the vector of an item that is no longer in the database.
        outbox.enqueue(lifecycle.UNINDEX_TASK, item_id)


def _queue_analysis(item_id: int) -> None:
    outbox.enqueue(lifecycle.ANALYZE_TASK, item_id)


def _read_upload(uploaded_file: UploadedFile, cfg: Settings) -> bytes:
    """The file's bytes, read no further than one byte past the limit; an over-size file is
    refused naming its real size (``UploadedFile.size``: what the request carried)."""
    return imaging.read_upload(uploaded_file, cfg, size=getattr(uploaded_file, "size", None))


def _clean_title(title: str, filename: str) -> str:
    cleaned = " ".join((title or "").split())
    if not cleaned:
        cleaned = " ".join(os.path.splitext(os.path.basename(filename))[0].split())
    return cleaned[:200]


def _delete_files(item: MediaItem, extra=()) -> None:
    for field in (item.file, item.thumbnail, item.proxy, *extra):
        if field and field.name:
            try:
                field.storage.delete(field.name)
            except OSError:
                logger.warning("could not delete %s", field.name, exc_info=True)
