"""glassbox.nn.ocr's gate setting (``GLASSBOX_OCR_GATE``); the gate itself, which needs
rapidocr, is tested in ``tests/models/test_nn_ocr_gate.py``."""

from __future__ import annotations

import pytest
from glassbox.config import ConfigError
from glassbox.nn.ocr import GATE_ENV, Gate, gate_from_env


@pytest.mark.parametrize("raw", [None, "", "0", "off", " FALSE "])
def test_the_gate_is_off_by_default(monkeypatch, raw):
    if raw is None:
        monkeypatch.delenv(GATE_ENV, raising=False)
    else:
        monkeypatch.setenv(GATE_ENV, raw)
    assert gate_from_env() is None


@pytest.mark.parametrize("raw", ["1", "on", "true"])
def test_the_gate_can_be_switched_on(monkeypatch, raw):
    monkeypatch.setenv(GATE_ENV, raw)
    assert gate_from_env() == Gate()


def test_a_bad_gate_setting_is_refused_with_its_name(monkeypatch):
    monkeypatch.setenv(GATE_ENV, "maybe")
    with pytest.raises(ConfigError, match=GATE_ENV):
        gate_from_env()


@pytest.mark.parametrize("scale", [0.0, -0.5, 1.5])
def test_a_gate_scale_outside_zero_to_one_is_refused(scale):
    with pytest.raises(ValueError):
        Gate(scale=scale)


def test_the_gate_is_more_generous_than_the_full_pass():
    # rapidocr's full pass binarises at 0.3 and keeps boxes scoring 0.5 (config.yaml, Det)
    gate = Gate()
    assert gate.thresh < 0.3 and gate.box_thresh < 0.5 and gate.scale < 1
