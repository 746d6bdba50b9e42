"""Jobs leave the web app here: by task name, with an id only, after the transaction commits.

Nothing enqueues by importing a task (Zulip's ``queue_json_publish``): the worker's tasks
import the actions, never the reverse. Celery routes each name to its queue
(``CELERY_TASK_ROUTES`` in the settings).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError

from .celery import app

logger = logging.getLogger(__name__)


def send(task_name: str, item_id: int) -> None:
    """Send one job now; raises ``BrokerError`` when the broker cannot be reached."""
    app.send_task(task_name, args=[item_id])


def send_on_commit(task_name: str, item_id: int, on_broker_error: Callable[[int], None]) -> None:
    """Send the job once the current transaction commits (at once outside one). When the
    broker cannot be reached the failure is logged and ``on_broker_error(item_id)`` records
    it, so nothing is lost silently."""
    transaction.on_commit(partial(_send_or_record, task_name, item_id, on_broker_error))


def _send_or_record(task_name: str, item_id: int, on_broker_error: Callable[[int], None]) -> None:
    try:
        send(task_name, item_id)
    except BrokerError:
        logger.exception("could not enqueue %s for media %s", task_name, item_id)
        on_broker_error(item_id)
