"""Fixtures for the models' tests (run in .venv-models, ``-p no:django``).

Weights come straight from the packages that carry them, so these tests do not depend on the
prepare step having run.
"""

from __future__ import annotations

import numpy as np
import pytest
from glassbox import prepare
from glassbox.imaging import decode_rgb, model_input

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
