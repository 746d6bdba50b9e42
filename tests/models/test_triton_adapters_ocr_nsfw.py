"""The ``ocr`` and ``nsfw_detector`` Triton adapters, run against the stand-in ``pb_utils`` of
test_triton_adapters.py: the contract's tensors, padding, one response per request, a bad
request failing alone."""

from __future__ import annotations

import importlib.util
import json
import re

import numpy as np
import pytest
from glassbox.evidence_types import to_fractions
from glassbox.smoke_ocr_nsfw import SMOKE_TEXT, load_rgb, render_text
from test_triton_adapters import REPO, Tensor, pb_utils  # noqa: F401  (pb_utils is a fixture)

DARKNET_DATA = "/usr/share/darknet/data"
# Like test_triton_adapters.TENSOR, but dims may be variable (-1).
TENSOR = re.compile(r'\{\s*name:\s*"(\w+)",\s*data_type:\s*(\w+),\s*dims:\s*\[([-\d,\s]+)\]\s*\}')


def read_config(model: str) -> dict:
    text = (REPO / model / "config.pbtxt").read_text()
    section = {k: text.split(f"{k} [", 1)[1].split("]\n", 1)[0] for k in ("input", "output")}
    return {
        "name": model,
        "max_batch_size": int(re.search(r"max_batch_size:\s*(\d+)", text).group(1)),
        **{
            k: [
                {"name": n, "data_type": t, "dims": [int(d) for d in dims.split(",")]}
                for n, t, dims in TENSOR.findall(body)
            ]
            for k, body in section.items()
        },
    }


def load_adapter(model: str):
    spec = importlib.util.spec_from_file_location(f"adapter_{model}", REPO / model / "1/model.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    adapter = module.TritonPythonModel()
    adapter.initialize(
        {
            "model_config": json.dumps(read_config(model)),
            "model_repository": str(REPO / model),
            "model_version": "1",
            "model_instance_kind": "CPU",
        }
    )
    return adapter


def image_request(batch: np.ndarray) -> dict:
    return {"IMAGE": Tensor("IMAGE", batch)}


def test_configs_declare_the_contract_tensors():
    ocr = read_config("ocr")
    assert ocr["max_batch_size"] == 8
    assert [(t["name"], t["data_type"], t["dims"]) for t in ocr["input"]] == [
        ("IMAGE", "TYPE_UINT8", [-1, -1, 3])
    ]
    assert [(t["name"], t["data_type"], t["dims"]) for t in ocr["output"]] == [
        ("COUNT", "TYPE_INT32", [1]),
        ("TEXTS", "TYPE_STRING", [64]),
        ("BOXES", "TYPE_FP32", [64, 4]),
        ("SCORES", "TYPE_FP32", [64]),
    ]
    nsfw = read_config("nsfw_detector")
    assert nsfw["max_batch_size"] == 8
    assert [(t["name"], t["data_type"], t["dims"]) for t in nsfw["input"]] == [
        ("IMAGE", "TYPE_UINT8", [-1, -1, 3])
    ]
    assert [(t["name"], t["data_type"], t["dims"]) for t in nsfw["output"]] == [
        ("COUNT", "TYPE_INT32", [1]),
        ("LABELS", "TYPE_STRING", [32]),
        ("BOXES", "TYPE_FP32", [32, 4]),
        ("SCORES", "TYPE_FP32", [32]),
    ]
    for model in ("ocr", "nsfw_detector"):
        body = (REPO / model / "config.pbtxt").read_text()
        assert "kind: KIND_CPU" in body and "dynamic_batching" in body
        assert 'backend: "python"' in body


def test_ocr_adapter_answers_each_request_and_fails_a_bad_one_alone(pb_utils):  # noqa: F811
    from glassbox.nn.ocr import TextReader

    adapter = load_adapter("ocr")
    text = render_text()
    blank = np.full_like(text, 255)
    responses = adapter.execute(
        [
            image_request(np.stack([text, blank])),
            image_request(np.zeros((1, 50, 50), np.uint8)),  # no channel axis
            {},  # IMAGE missing
            image_request(np.zeros((1, 40, 60, 3), np.float32)),  # wrong type
            image_request(text[None, :120]),  # a different size in the same call
        ]
    )

    assert len(responses) == 5
    for bad in (1, 2, 3):
        assert responses[bad].error is not None and "IMAGE" in responses[bad].error.message()
    first, last = responses[0], responses[4]
    assert first.error is None and last.error is None
    out = first.outputs
    assert set(out) == {"COUNT", "TEXTS", "BOXES", "SCORES"}
    assert out["COUNT"].shape == (2, 1) and out["COUNT"].dtype == np.int32
    assert out["TEXTS"].shape == (2, 64) and out["TEXTS"].dtype == np.object_
    assert out["BOXES"].shape == (2, 64, 4) and out["BOXES"].dtype == np.float32
    assert out["SCORES"].shape == (2, 64) and out["SCORES"].dtype == np.float32
    assert out["COUNT"][1, 0] == 0 and set(out["TEXTS"][1]) == {b""}
    assert not out["BOXES"][1].any() and not out["SCORES"][1].any()

    n = int(out["COUNT"][0, 0])
    local = TextReader(threads=1).read(text)
    assert n == len(local) >= 1
    assert [t.decode() for t in out["TEXTS"][0, :n]] == [line.text for line in local]
    assert any(SMOKE_TEXT.lower() in t.decode().lower() for t in out["TEXTS"][0, :n])
    h, w = text.shape[:2]
    want = np.array([to_fractions(line.box, w, h) for line in local], np.float32)
    np.testing.assert_allclose(out["BOXES"][0, :n], want, atol=1e-6)
    assert (out["BOXES"][0, :n] >= 0).all() and (out["BOXES"][0, :n] <= 1).all()
    assert set(out["TEXTS"][0, n:]) == {b""}
    assert int(last.outputs["COUNT"][0, 0]) >= 1


def test_ocr_adapter_keeps_at_most_the_configured_lines(pb_utils, monkeypatch):  # noqa: F811
    from glassbox.evidence_types import TextLine

    adapter = load_adapter("ocr")
    many = [TextLine(f"line {i}", (0.0, i, 10.0, i + 1.0), 0.9) for i in range(100)]
    monkeypatch.setattr(adapter.reader, "read", lambda image: many)
    [response] = adapter.execute([image_request(np.zeros((1, 200, 100, 3), np.uint8))])
    assert response.outputs["COUNT"][0, 0] == 64
    assert response.outputs["TEXTS"][0, 63] == b"line 63"


def test_ocr_adapter_reports_a_failing_read_on_that_request_only(pb_utils, monkeypatch):  # noqa: F811
    adapter = load_adapter("ocr")
    real = adapter.reader.read

    def flaky(image):
        if image.shape[0] == 13:
            raise RuntimeError("boom")
        return real(image)

    monkeypatch.setattr(adapter.reader, "read", flaky)
    responses = adapter.execute(
        [
            image_request(np.zeros((1, 13, 40, 3), np.uint8)),
            image_request(np.full((1, 40, 40, 3), 255, np.uint8)),
        ]
    )
    assert "ocr failed: boom" in responses[0].error.message()
    assert responses[1].error is None and responses[1].outputs["COUNT"][0, 0] == 0


def test_nsfw_adapter_answers_each_request_and_fails_a_bad_one_alone(pb_utils):  # noqa: F811
    from glassbox.nn.nsfw import NsfwDetector

    adapter = load_adapter("nsfw_detector")
    person = load_rgb(f"{DARKNET_DATA}/person.jpg")
    dog = load_rgb(f"{DARKNET_DATA}/dog.jpg")
    responses = adapter.execute(
        [
            image_request(np.stack([person, person[:, ::-1].copy()])),
            image_request(np.zeros((1, 50, 50, 4), np.uint8)),  # four channels
            {},
            image_request(dog[None]),
        ]
    )

    assert len(responses) == 4
    assert responses[1].error is not None and "IMAGE" in responses[1].error.message()
    assert responses[2].error is not None
    first, last = responses[0], responses[3]
    assert first.error is None and last.error is None
    out = first.outputs
    assert set(out) == {"COUNT", "LABELS", "BOXES", "SCORES"}
    assert out["COUNT"].shape == (2, 1) and out["LABELS"].shape == (2, 32)
    assert out["BOXES"].shape == (2, 32, 4) and out["SCORES"].shape == (2, 32)

    detector = NsfwDetector(threads=1)
    for row, image in ((0, person), (1, person[:, ::-1].copy())):
        local = detector.detect(image)
        n = int(out["COUNT"][row, 0])
        assert n == len(local)
        assert [b.decode() for b in out["LABELS"][row, :n]] == [d.label for d in local]
        np.testing.assert_allclose(out["SCORES"][row, :n], [d.score for d in local], atol=1e-4)
        h, w = image.shape[:2]
        want = np.array([to_fractions(d.box, w, h) for d in local], np.float32).reshape(-1, 4)
        np.testing.assert_allclose(out["BOXES"][row, :n], want, atol=1e-3)
        assert set(out["LABELS"][row, n:]) == {b""}
    safe = last.outputs
    n = int(safe["COUNT"][0, 0])
    assert not [
        s
        for label, s in zip(safe["LABELS"][0, :n], safe["SCORES"][0, :n], strict=True)
        if label.decode().endswith("_EXPOSED") and s >= 0.5
    ]


def test_nsfw_adapter_reports_a_failing_pass_to_every_request(pb_utils, monkeypatch):  # noqa: F811
    adapter = load_adapter("nsfw_detector")

    def broken(images):
        raise RuntimeError("onnx exploded")

    monkeypatch.setattr(adapter.detector, "detect_many", broken)
    responses = adapter.execute([image_request(np.zeros((1, 8, 8, 3), np.uint8)), {}])
    assert "nsfw_detector failed: onnx exploded" in responses[0].error.message()
    assert responses[1].error is not None


@pytest.mark.parametrize("model", ["ocr", "nsfw_detector"])
def test_adapters_read_their_thread_count_from_the_environment(pb_utils, monkeypatch, model):  # noqa: F811
    monkeypatch.setenv("GLASSBOX_TORCH_THREADS", "1")
    adapter = load_adapter(model)
    if model == "nsfw_detector":
        assert adapter.detector.session.get_session_options().intra_op_num_threads == 1
    else:
        det = adapter.reader.engine.text_det
        assert det.session.session.get_session_options().intra_op_num_threads == 1
