"""infra/bin/gpu-check without Triton: the generated configs, the repository of links, where
each model is placed, the refusal without a GPU, the table; and the torch models' device
choice (``glassbox.nn.instance_device``) for a GPU instance, with a stand-in torch."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
from glassbox_launch import gpu_check as gc

CONFIGS = sorted(gc.SOURCE_REPOSITORY.glob("*/config.pbtxt"))
CPU_GROUP = "instance_group [ { count: 1, kind: KIND_CPU } ]"
GPU_GROUP = "instance_group [ { count: 1, kind: KIND_GPU } ]"


def test_every_model_of_the_repository_has_a_workload():
    assert {p.parent.name for p in CONFIGS} == set(gc.WORKLOADS)


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.parent.name)
def test_a_gpu_copy_changes_the_instance_group_and_nothing_else(path: Path):
    text = path.read_text()
    gpu = gc.instance_config(text, "KIND_GPU", batching=True)
    assert gpu.count("KIND_GPU") == 1 and "KIND_CPU" not in gpu
    assert gpu.replace(GPU_GROUP, CPU_GROUP) == text.rstrip("\n") + "\n"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.parent.name)
def test_an_unbatched_copy_loses_exactly_its_dynamic_batching_block(path: Path):
    text = path.read_text()
    off = gc.instance_config(text, "KIND_GPU", batching=False, name="x_unbatched")
    assert "dynamic_batching" not in off and "max_queue_delay" not in off
    assert re.search(r'^name: "x_unbatched"$', off, re.MULTILINE)
    # inputs, outputs and max_batch_size are kept: the same requests are valid
    for line in text.splitlines():
        if line.startswith(("max_batch_size", "  {")):
            assert line in off.splitlines()


def test_a_multiline_group_is_replaced_whole_and_comments_do_not_count():
    text = (
        '# instance_group { in a comment } is not the field\nname: "m"\n'
        "instance_group [\n  {\n    count: 2\n    kind: KIND_CPU\n    gpus: [ 0 ]\n  }\n]\n"
        "dynamic_batching {\n  preferred_batch_size: [ 4, 8 ]\n}\n"
        'parameters: { key: "k" value: { string_value: "a ] b" } }\n'
    )
    out = gc.instance_config(text, "KIND_GPU", batching=False)
    assert out == (
        '# instance_group { in a comment } is not the field\nname: "m"\n'
        f"{GPU_GROUP}\n"
        'parameters: { key: "k" value: { string_value: "a ] b" } }\n'
    )


def test_configs_without_a_group_or_batcher_or_with_a_bad_kind_are_refused():
    with pytest.raises(ValueError, match="no instance_group"):
        gc.instance_config('name: "m"\nmax_batch_size: 4\n', "KIND_GPU", batching=False)
    with pytest.raises(ValueError, match="no dynamic_batching"):
        gc.instance_config(f'name: "m"\n{CPU_GROUP}\n', "KIND_GPU", batching=True)
    with pytest.raises(ValueError, match="kind must be"):
        gc.instance_config(f'name: "m"\n{CPU_GROUP}\n', "KIND_TPU", batching=False)


def test_the_repository_holds_two_copies_of_each_model_linking_to_the_source(tmp_path):
    before = {p: p.read_bytes() for p in CONFIGS}
    placements = [
        gc.Placement("image_concepts", "KIND_GPU", "GPU"),
        gc.Placement("ocr", "KIND_CPU", gc.CPU_ONLY_ORT),
    ]
    repo = gc.build_repository(placements, tmp_path / "repo")
    names = sorted(p.name for p in repo.iterdir() if p.is_dir())
    assert names == ["image_concepts", "image_concepts_unbatched", "ocr", "ocr_unbatched"]
    for name in names:
        model = name.removesuffix(gc.UNBATCHED_SUFFIX)
        config = (repo / name / "config.pbtxt").read_text()
        assert f'name: "{name}"' in config
        assert ("dynamic_batching" in config) == (name == model)
        kind = "KIND_GPU" if model == "image_concepts" else "KIND_CPU"
        assert f"kind: {kind}" in config
        link = repo / name / "1" / "model.py"
        assert link.is_symlink()
        assert link.resolve() == (gc.SOURCE_REPOSITORY / model / "1" / "model.py").resolve()
    assert {p: p.read_bytes() for p in CONFIGS} == before  # the checked-in configs untouched
    # a second run starts afresh in its own folder ...
    gc.build_repository(placements[:1], tmp_path / "repo")
    assert not (repo / "ocr").exists()
    # ... but never wipes a folder it did not make
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    with pytest.raises(gc.GpuCheckError, match="not made by gpu-check"):
        gc.build_repository(placements, foreign)
    assert (foreign / "keep.txt").exists()


def caps(cuda: bool = True, ort: tuple[str, ...] = ("CPUExecutionProvider",), cv2_gpus: int = 0):
    probe = {
        "cuda_available": cuda,
        "gpus": ["NVIDIA H200"] if cuda else [],
        "ort_providers": list(ort),
        "cv2_cuda_devices": cv2_gpus,
    }
    return gc.Capabilities(probe, ("NVIDIA H200, 143771 MiB, 560.35",))


def test_on_a_gpu_only_the_torch_models_get_a_gpu_instance():
    placed = {m: gc.place(w, gpu=True, caps=caps()) for m, w in gc.WORKLOADS.items()}
    for model in ("image_concepts", "text_embedding", "shot_boundaries"):
        assert placed[model].kind == "KIND_GPU"
        assert placed[model].device == "GPU (cuda:0, NVIDIA H200)"
    for model in ("ocr", "nsfw_detector"):
        assert (placed[model].kind, placed[model].device) == ("KIND_CPU", gc.CPU_ONLY_ORT)
    assert placed["object_detection"].kind == "KIND_CPU"
    assert placed["object_detection"].device == gc.CPU_ONLY_CV2


def test_cuda_in_onnxruntime_or_opencv_is_named_but_not_claimed():
    both = caps(ort=("CUDAExecutionProvider", "CPUExecutionProvider"), cv2_gpus=1)
    ocr = gc.place(gc.WORKLOADS["ocr"], gpu=True, caps=both)
    ssd = gc.place(gc.WORKLOADS["object_detection"], gpu=True, caps=both)
    assert (ocr.kind, ocr.device) == ("KIND_CPU", gc.CPU_ONLY_ORT_PINNED)
    assert (ssd.kind, ssd.device) == ("KIND_CPU", gc.CPU_ONLY_CV2_UNUSED)


def test_with_cpu_every_model_gets_a_cpu_instance():
    assert {gc.place(w, gpu=False, caps=None).kind for w in gc.WORKLOADS.values()} == {"KIND_CPU"}


def test_without_nvidia_smi_it_exits_2_with_a_clear_message_and_starts_nothing(
    monkeypatch, capsys, tmp_path
):
    monkeypatch.setattr(gc.shutil, "which", lambda _name: None)
    monkeypatch.setattr(gc, "probe_models_env", lambda: pytest.fail("no need to ask"))
    monkeypatch.setattr(gc, "start", lambda *a, **k: pytest.fail("nothing may start"))
    assert gc.main(["--build-dir", str(tmp_path)]) == gc.EXIT_NO_GPU
    err = capsys.readouterr().err
    assert "no GPU here: nvidia-smi is not installed" in err and "--cpu" in err
    assert not (tmp_path / "model_repository").exists()


def test_a_gpu_that_the_models_torch_cannot_use_also_exits_2(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(gc, "nvidia_smi_gpus", lambda: ("NVIDIA H200, 143771 MiB, 560.35",))
    probe = {"torch": "2.13.0+cpu", "torch_cuda": None, "cuda_available": False}
    monkeypatch.setattr(gc, "probe_models_env", lambda: probe)
    monkeypatch.setattr(gc, "start", lambda *a, **k: pytest.fail("nothing may start"))
    assert gc.main(["--build-dir", str(tmp_path)]) == gc.EXIT_NO_GPU
    err = capsys.readouterr().err
    assert "torch 2.13.0+cpu (CUDA None) sees no CUDA device" in err


def test_arguments_are_checked():
    with pytest.raises(SystemExit):
        gc.parse_args(["--models", "image_concepts,nope"])
    with pytest.raises(SystemExit):
        gc.parse_args(["--concurrency", "0"])
    args = gc.parse_args(["--models", "ocr,text_embedding", "--concurrency", "2,16"])
    assert args.models == ["ocr", "text_embedding"] and args.concurrency == [2, 16]


def test_percentiles_are_numpys():
    values = [5.0, 1.0, 9.0, 3.0, 7.5, 2.25]
    for q in (0, 50, 95, 100):
        assert gc.percentile(values, q) == pytest.approx(np.percentile(values, q))


def test_the_table_gives_units_windows_and_failures():
    shots = gc.Row(
        "shot_boundaries", "GPU", True, 1, 8, unit="frames", requests=40, seconds=2.0,
        per_item=50, latencies_ms=[10.0] * 40, formed_batch=3.5,
    )  # fmt: skip
    failed = gc.Row("ocr", gc.CPU_ONLY_ORT, False, 1, 0, note="load failed: ocr: boom")
    table = gc.markdown_table([shots, failed])
    assert (
        "| shot_boundaries | GPU | on | 1 | 8 | 1,000.0 frames/s (20.00 windows/s) | 10.0 | 10.0 "
        "| 3.50 | 40 (0) |"
    ) in table
    assert f"| ocr | {gc.CPU_ONLY_ORT} | off | 1 | — | load failed: ocr: boom |" in table


@pytest.fixture
def fake_torch(monkeypatch):
    """A stand-in ``torch`` (the app's environment has none) whose CUDA can be switched."""
    torch = types.ModuleType("torch")
    torch.__version__ = "2.13.0+cpu"
    torch.version = types.SimpleNamespace(cuda=None)
    torch.cuda = types.SimpleNamespace(is_available=lambda: False)
    monkeypatch.setitem(sys.modules, "torch", torch)
    return torch


def test_a_gpu_instance_goes_to_its_cuda_device(fake_torch):
    from glassbox.nn import instance_device

    fake_torch.cuda.is_available = lambda: True
    assert instance_device({"model_instance_kind": "GPU", "model_instance_device_id": "1"}) == (
        "cuda:1"
    )


def test_a_gpu_instance_without_cuda_fails_instead_of_running_on_the_cpu(fake_torch):
    from glassbox.nn import instance_device

    with pytest.raises(RuntimeError, match=r"KIND_GPU instance \(device 0\).*no CUDA device"):
        instance_device({"model_instance_kind": "GPU", "model_instance_device_id": "0"})


def test_a_cpu_instance_stays_on_the_cpu_whatever_cuda_says(fake_torch):
    from glassbox.nn import instance_device

    for available in (False, True):
        fake_torch.cuda.is_available = lambda a=available: a
        assert instance_device({"model_instance_kind": "CPU", "model_instance_device_id": "0"}) == (
            "cpu"
        )
        assert instance_device({}) == "cpu"
