"""The Celery app shared by web (to enqueue) and the worker (to run tasks).

Configuration lives in Django settings under the ``CELERY_`` prefix. Each worker process
starts with fresh Triton/Milvus clients: connections must never cross a fork.
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "glassbox_web.settings")

app = Celery("glassbox")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect
def _reset_service_clients(**_: object) -> None:
    from glassbox_web import runtime

    runtime.reset()
