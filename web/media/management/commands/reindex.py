"""``manage.py reindex``: rebuild the Milvus collection from the database, with progress."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError
from glassbox.clients.milvus.client import from_settings as index_from_settings
from glassbox.clients.milvus.errors import IndexFailure, IndexOutdated
from glassbox.config import get_settings

from media import indexing


class Command(BaseCommand):
    help = (
        "Rebuild the search index from the database (the source of truth): drop the "
        "collection, recreate it and upsert every analysed item. Running it twice gives the "
        "same index."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument(
            "--if-outdated",
            action="store_true",
            help="only rebuild when the collection was made by an older Glassbox (the demo "
            "runs this at start)",
        )
        parser.add_argument(
            "--collection",
            default=None,
            help="collection name (default: GLASSBOX_MILVUS_COLLECTION)",
        )

    def handle(self, *args, batch_size: int, collection: str | None, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        cfg = get_settings()
        index = index_from_settings(cfg, collection=collection)
        if options.get("if_outdated"):
            try:
                index.ensure()
                return  # current: nothing to do
            except IndexOutdated as exc:
                self.stderr.write(f"{exc}; rebuilding it now")
            except IndexFailure as exc:
                raise CommandError(f"Milvus is unavailable: {exc}") from exc
        err = self.stderr if options.get("verbosity", 1) > 0 else None

        def progress(done: int, total: int) -> None:
            if err is not None:
                width = 30
                filled = width * done // max(total, 1)
                bar = "#" * filled + "-" * (width - filled)
                err.write(f"\rreindex [{bar}] {done}/{total}", ending="")
                err.flush()

        try:
            count = indexing.reindex(index, batch_size=batch_size, progress=progress)
        except IndexFailure as exc:
            raise CommandError(f"Milvus is unavailable or refused the rebuild: {exc}") from exc
        if err is not None:
            err.write("")
        self.stdout.write(f"reindexed {count} items into {index.collection!r} at {index.uri}")
        sys.stdout.flush()
