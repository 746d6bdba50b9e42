"""The broker's side of a job: sent by task name, with an item id only.

Nothing here is called by the actions directly: they write jobs into the outbox
(``jobs.outbox.enqueue``), in the same transaction as their change, and the outbox sends them
through ``send``. Nothing enqueues by importing a task (Zulip's ``queue_json_publish``): the
worker's tasks import the actions, never the reverse. Celery routes each name to its queue
(``CELERY_TASK_ROUTES`` in the settings).
"""

from __future__ import annotations

from .celery import app


def send(task_name: str, item_id: int) -> None:
    """Send one job now; raises ``kombu.exceptions.OperationalError`` when the broker cannot
    be reached."""
    app.send_task(task_name, args=[item_id])
