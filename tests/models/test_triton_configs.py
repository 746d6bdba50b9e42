"""Every ``config.pbtxt`` declares the contract's tensors (docs/contracts.md,
docs/clip-profile.md): names, types, dims and batch sizes, on the python backend with dynamic
batching on a CPU instance (the Triton image switches the kind at build time)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.triton_stub import declared, read_config

ROOT = Path(__file__).resolve().parents[2]
IMAGE_CONCEPTS_OUTPUTS = [
    ("CONCEPT_LOGITS", "TYPE_FP32", [1000]),
    ("POOLED_FEATURES", "TYPE_FP32", [1280]),
    ("CAM_INDICES", "TYPE_INT32", [16]),
    ("CAMS", "TYPE_FP32", [16, 7, 7]),
    ("CAM_BIAS", "TYPE_FP32", [16]),
]
ANY_IMAGE = [("IMAGE", "TYPE_UINT8", [-1, -1, 3])]
TEXT = [("TEXT", "TYPE_STRING", [1])]


def _boxes(label: str, limit: int) -> list:
    return [
        ("COUNT", "TYPE_INT32", [1]),
        (label, "TYPE_STRING", [limit]),
        ("BOXES", "TYPE_FP32", [limit, 4]),
        ("SCORES", "TYPE_FP32", [limit]),
    ]


CONTRACTS = {
    "model_repository/image_concepts": (
        16,
        [("IMAGE", "TYPE_UINT8", [224, 224, 3])],
        IMAGE_CONCEPTS_OUTPUTS,
    ),
    "model_repository/text_embedding": (64, TEXT, [("EMBEDDING", "TYPE_FP32", [384])]),
    "model_repository/ocr": (8, ANY_IMAGE, _boxes("TEXTS", 64)),
    "model_repository/nsfw_detector": (8, ANY_IMAGE, _boxes("LABELS", 32)),
    "model_repository/object_detection": (
        8,
        ANY_IMAGE,
        [
            ("COUNT", "TYPE_INT32", [1]),
            ("CLASS_IDS", "TYPE_INT32", [100]),
            ("BOXES", "TYPE_FP32", [100, 4]),
            ("SCORES", "TYPE_FP32", [100]),
        ],
    ),
    "model_repository/shot_boundaries": (
        8,
        [("FRAMES", "TYPE_UINT8", [100, 27, 48, 3])],
        [("CUT_PROBABILITIES", "TYPE_FP32", [100])],
    ),
    "model_repository_clip/image_concepts": (
        16,
        [("IMAGE", "TYPE_UINT8", [224, 224, 3])],
        [(n, t, [512] if n == "POOLED_FEATURES" else d) for n, t, d in IMAGE_CONCEPTS_OUTPUTS],
    ),
    "model_repository_clip/text_embedding": (64, TEXT, [("EMBEDDING", "TYPE_FP32", [512])]),
    "model_repository_clip/caption": (
        8,
        [("IMAGE", "TYPE_UINT8", [384, 384, 3])],
        [
            ("CAPTION", "TYPE_STRING", [1]),
            ("PHRASES", "TYPE_STRING", [8]),
            ("PHRASE_MAPS", "TYPE_FP32", [8, 7, 7]),
            ("PHRASE_SCORES", "TYPE_FP32", [8]),
            ("PHRASE_GROUNDED", "TYPE_BOOL", [8]),
        ],
    ),
}


@pytest.mark.parametrize("model", CONTRACTS)
def test_config_declares_the_contract_tensors(model):
    max_batch_size, inputs, outputs = CONTRACTS[model]
    config = read_config(ROOT / model)
    assert config["max_batch_size"] == max_batch_size
    assert declared(config["input"]) == inputs
    assert declared(config["output"]) == outputs
    body = (ROOT / model / "config.pbtxt").read_text()
    assert "kind: KIND_CPU" in body and "dynamic_batching" in body
    assert 'backend: "python"' in body


def test_the_clip_profile_serves_the_offline_evidence_models_unchanged():
    for model in ("ocr", "nsfw_detector", "shot_boundaries", "object_detection"):
        clip = ROOT / "model_repository_clip" / model
        assert clip.resolve() == (ROOT / "model_repository" / model).resolve()
