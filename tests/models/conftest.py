"""Fixtures for the models' tests (run in .venv-models, ``-p no:django``).

Weights come straight from the packages that carry them, so these tests do not depend on the
prepare step having run.
"""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
from glassbox.media.imaging import decode_rgb, model_input
from glassbox.tools import prepare

from tests.support import triton_stub

DARKNET_DATA = "/usr/share/darknet/data"


@pytest.fixture(scope="session")
def mobilenet_weights():
    return prepare.mobilenet_source()


@pytest.fixture(scope="session")
def minilm_dir():
    return prepare.minilm_source()


@pytest.fixture(scope="session")
def concept_net(mobilenet_weights):
    from glassbox.nn.mobilenet_v2 import load_concept_net

    return load_concept_net(mobilenet_weights)


@pytest.fixture(scope="session")
def text_encoder(minilm_dir):
    from glassbox.nn.text_encoder import TextEncoder

    return TextEncoder(minilm_dir)


@pytest.fixture(scope="session")
def photo():
    """``photo(name)``: a darknet sample photo as the model sees it, uint8 [224, 224, 3]."""

    def load(name: str) -> np.ndarray:
        with open(f"{DARKNET_DATA}/{name}", "rb") as fh:
            return model_input(decode_rgb(fh.read()), 224)

    return load


@pytest.fixture(scope="session")
def tiny_repo(tmp_path_factory) -> Path:
    """A clip-profile repository (the real configs and adapters) with tiny random CLIP and
    BLIP models and a tiny 1000-leaf concept bank (tests/support/clip_tiny.py)."""
    pytest.importorskip("transformers")
    from tests.support.clip_tiny import build_tiny_clip_repository, tiny_bank

    root = tmp_path_factory.mktemp("clip")
    bank = tiny_bank(root / "offline_bank.npz")
    return build_tiny_clip_repository(root / "repo", offline_bank=bank)


@pytest.fixture
def pb_utils(monkeypatch):
    """The stand-in ``triton_python_backend_utils`` (tests/support/triton_stub.py), installed
    for one test, so that a ``model.py`` can be loaded and run."""
    return triton_stub.install(monkeypatch)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("the model tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
