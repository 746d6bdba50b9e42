"""Items analysed by older versions, and reprocessing them (the operators' dashboard).

Every analysis records the versions that made it (``MediaItem.analysis_versions``: the
analysis', the concept bank's and the Triton models', ``glassbox.analysis.version``) and their
fingerprint. The *current* versions are this code's ``ANALYSIS_VERSION``, the loaded concept
bank's version and the versions of the models Triton reports READY; they are read at most
once a minute per process (:func:`current_versions`).

- :func:`outdated`: the ready items whose fingerprint is not the current one (an item
  analysed before versions were recorded has none, so it is one of them);
- :func:`start`: a :class:`~media.models.ReprocessRun` and, in its transaction, one outbox
  job ``media.reprocess`` per item, routed to the ``reprocess`` queue, which the analyze
  pool reads only when ``analyze`` is empty (``queue_order_strategy: priority``), so new
  uploads go first. An item stays ready, and searchable, until its own task claims it
  (``lifecycle.begin_reprocess``);
- :func:`progress`: a run's items done (ready at its target), failed and pending.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from glassbox.analysis.version import fingerprint, versions
from glassbox.clients.triton import InferenceUnavailable
from glassbox_web import runtime
from jobs import outbox

from .actions import lifecycle
from .models import MediaItem, ReprocessRun

logger = logging.getLogger(__name__)

VERSIONS_CACHE_S = 60.0
MAX_ITEMS = 5000  # one run at most; "all" beyond it takes several runs
MAX_LISTED = 100  # outdated items listed on the dashboard
MAX_RUNS = 10  # runs shown

_lock = threading.Lock()
_cached: tuple[float, Any, Any, dict[str, Any]] | None = None  # (when, client, bank, versions)


def current_versions() -> dict[str, Any]:
    """The versions a new analysis records now; raises ``InferenceUnavailable`` when
    Triton cannot be asked, or a model the analysis needs is not ready.
    Cached for ``VERSIONS_CACHE_S`` per client and bank (``runtime.reset`` renews it)."""
    global _cached
    client, bank = runtime.inference_client(), runtime.concept_bank()
    now = time.monotonic()
    with _lock:
        hit = _cached
        if (
            hit is not None
            and hit[1] is client
            and hit[2] is bank
            and now - hit[0] < VERSIONS_CACHE_S
        ):
            return hit[3]
    try:
        found = versions(bank.version, client.model_versions())
    except KeyError as exc:  # Triton is starting, or a model failed to load: try again later
        raise InferenceUnavailable(f"Triton has no READY version of the model {exc}") from exc
    with _lock:
        _cached = (now, client, bank, found)
    return found


def current_fingerprint() -> str:
    return fingerprint(current_versions())


def outdated(target: str | None = None):
    """Ready items whose fingerprint is not ``target`` (default: the current one)."""
    target = current_fingerprint() if target is None else target
    return MediaItem.objects.filter(status=MediaItem.Status.READY).exclude(
        analysis_fingerprint=target
    )


class NothingToReprocess(Exception):
    """None of the items asked for is ready and outdated."""


def start(user, ids: Iterable[int] | None = None) -> ReprocessRun:
    """Reprocess the outdated items among ``ids`` (``None``: every outdated item, at most
    ``MAX_ITEMS``): a run and its jobs, in one transaction. Items that are up to date, not
    ready or gone are left out; raises :class:`NothingToReprocess` if none is left."""
    target_versions = current_versions()
    target = fingerprint(target_versions)
    rows = outdated(target)
    if ids is not None:
        rows = rows.filter(pk__in=sorted({int(i) for i in ids}))
    with transaction.atomic():
        chosen = list(rows.order_by("id").values_list("id", flat=True)[:MAX_ITEMS])
        if not chosen:
            raise NothingToReprocess("none of these items is ready and analysed by older versions")
        run = ReprocessRun.objects.create(
            requested_by=user if getattr(user, "is_authenticated", False) else None,
            target_fingerprint=target,
            target_versions=target_versions,
            item_ids=chosen,
            total=len(chosen),
        )
        for item_id in chosen:
            outbox.enqueue(lifecycle.REPROCESS_TASK, item_id)
    logger.info(
        "reprocess run started",
        extra={"run_id": run.pk, "items": len(chosen), "user_id": getattr(user, "pk", None)},
    )
    return run


@dataclass(frozen=True)
class Progress:
    total: int
    done: int  # ready at the run's target
    failed: int
    gone: int  # deleted since
    pending: int  # not yet claimed, or being analysed or indexed


def progress(run: ReprocessRun) -> Progress:
    """Count a run's items now; the first count with nothing pending finishes the run."""
    rows = dict(
        MediaItem.objects.filter(pk__in=run.item_ids).values_list("id", "status")
        if run.item_ids
        else []
    )
    at_target = set(
        MediaItem.objects.filter(
            pk__in=run.item_ids,
            status=MediaItem.Status.READY,
            analysis_fingerprint=run.target_fingerprint,
        ).values_list("id", flat=True)
    )
    done = len(at_target)
    failed = sum(1 for s in rows.values() if s == MediaItem.Status.FAILED)
    gone = len(run.item_ids) - len(rows)
    pending = len(run.item_ids) - done - failed - gone
    if (done, failed) != (run.done, run.failed) or (pending == 0 and run.finished is None):
        run.done, run.failed = done, failed
        if pending == 0 and run.finished is None:
            run.finished = timezone.now()
        ReprocessRun.objects.filter(pk=run.pk).update(
            done=run.done, failed=run.failed, finished=run.finished
        )
    return Progress(len(run.item_ids), done, failed, gone, pending)


def section(current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dashboard's "Analysed by older versions": the current versions (default: read
    now), the outdated items (ids, kind and versions only: the items may be private) and the
    latest runs."""
    current = current_versions() if current is None else current
    target = fingerprint(current)
    rows = outdated(target)
    listed = rows.order_by("id").values("id", "kind", "analysis_versions", "analysis_fingerprint")
    runs = []
    for run in ReprocessRun.objects.order_by("-created", "-id")[:MAX_RUNS]:
        p = progress(run)
        runs.append(
            {
                "id": run.pk,
                "created": run.created.isoformat(),
                "finished": run.finished.isoformat() if run.finished else None,
                "target_fingerprint": run.target_fingerprint,
                "current": run.target_fingerprint == target,
                "total": p.total,
                "done": p.done,
                "failed": p.failed,
                "gone": p.gone,
                "pending": p.pending,
            }
        )
    return {
        "current_versions": current,
        "current_fingerprint": target,
        "count": rows.count(),
        "items": [
            {
                "id": r["id"],
                "kind": r["kind"],
                "fingerprint": r["analysis_fingerprint"] or None,
                "versions": r["analysis_versions"] or None,
            }
            for r in listed[:MAX_LISTED]
        ],
        "runs": runs,
    }
