"""Lazily created, process-wide clients for Triton, Milvus and the concept bank.

Web and worker processes create each on first use. ``reset()`` drops them; the worker calls it
in ``worker_process_init`` so a forked child never reuses its parent's connections. Tests
replace these functions with fakes through ``monkeypatch``.
"""

from __future__ import annotations

import threading
from typing import Any

from glassbox.clients.milvus.client import MediaIndex
from glassbox.clients.milvus.client import from_settings as index_from_settings
from glassbox.clients.triton import InferenceClient
from glassbox.concepts import ConceptBank
from glassbox.config import get_settings

_lock = threading.Lock()
_instances: dict[str, Any] = {}


def inference_client() -> InferenceClient:
    def make() -> InferenceClient:
        s = get_settings()
        return InferenceClient(s.triton_url, timeout=s.triton_timeout_s)

    return _get("inference", make)


def concept_bank() -> ConceptBank:
    return _get("concepts", lambda: ConceptBank.load(get_settings().concept_bank_path))


def media_index() -> MediaIndex:
    def make() -> MediaIndex:
        s = get_settings()
        index = index_from_settings(s)
        index.ensure()
        return index

    return _get("index", make)


def reset() -> None:
    with _lock:
        _instances.clear()


def _get(key: str, make: Any) -> Any:
    instance = _instances.get(key)
    if instance is None:
        with _lock:
            instance = _instances.get(key)
            if instance is None:
                instance = make()  # a failure leaves nothing cached, so the next call retries
                _instances[key] = instance
    return instance
