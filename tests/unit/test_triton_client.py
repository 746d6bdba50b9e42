from __future__ import annotations

import socket

import numpy as np
import pytest
from glassbox.clients.triton import (
    InferenceClient,
    InferenceError,
    InferenceUnavailable,
    _classify,
)
from tritonclient.utils import InferenceServerException


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_creating_a_client_does_not_connect() -> None:
    InferenceClient(f"127.0.0.1:{closed_port()}", timeout=1.0)


def test_unreachable_server_is_not_ready_and_inference_is_retryable() -> None:
    client = InferenceClient(f"127.0.0.1:{closed_port()}", timeout=1.0)
    assert client.ready() is False
    assert client.model_ready("image_concepts") is False
    with pytest.raises(InferenceUnavailable):
        client.embed_texts(["dog"])
    with pytest.raises(InferenceUnavailable):
        client.analyze_images(np.zeros((1, 224, 224, 3), dtype=np.uint8))


@pytest.mark.parametrize(
    ("status", "message", "kind"),
    [
        ("503", "server is busy", InferenceUnavailable),
        ("500", "internal error", InferenceUnavailable),
        ("429", "too many requests", InferenceUnavailable),
        ("400", "Request for unknown model: 'image_concepts' is not ready", InferenceUnavailable),
        ("400", "unexpected shape for input 'IMAGE'", InferenceError),
        (None, "bad datatype", InferenceError),
    ],
)
def test_server_errors_are_split_into_retryable_and_not(status, message, kind) -> None:
    assert isinstance(_classify(InferenceServerException(message, status=status)), kind)


def test_a_wrongly_typed_batch_is_a_request_error_without_a_round_trip() -> None:
    client = InferenceClient(f"127.0.0.1:{closed_port()}", timeout=1.0)
    with pytest.raises(InferenceError):
        client.analyze_images(np.zeros((1, 224, 224, 3), dtype=np.float32))


def test_no_texts_need_no_round_trip() -> None:
    client = InferenceClient(f"127.0.0.1:{closed_port()}", timeout=1.0)
    assert client.embed_texts([]).shape == (0, 384)
