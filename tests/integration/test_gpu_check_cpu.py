"""``infra/bin/gpu-check --cpu`` end to end on one small model: it starts its own Triton (on
the test Triton port + 10, beside the session's), loads ``text_embedding``'s two generated
copies, measures a few requests each and prints the table; the checked-in config is left as
it was. No GPU is needed or used (the tests never rely on one)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from glassbox_launch.stack import REPO

pytestmark = pytest.mark.integration

CONFIG = REPO / "model_repository" / "text_embedding" / "config.pbtxt"
ROW = re.compile(
    r"^\| text_embedding \| CPU \(--cpu\) \| (?P<batching>on|off) \| 1 \| 2 \| "
    r"(?P<rate>[\d,.]+) texts/s \| (?P<p50>[\d.]+) \| (?P<p95>[\d.]+) \| (?P<formed>[\d.]+) "
    r"\| 8 \(0\) \|$",
    re.MULTILINE,
)


def test_gpu_check_cpu_measures_one_model_with_batching_on_and_off(stack, tmp_path):
    before = CONFIG.read_bytes()
    argv = [
        sys.executable,
        str(REPO / "infra" / "bin" / "gpu-check"),
        "--cpu",
        "--models=text_embedding",
        "--concurrency=2",
        "--requests=8",
        f"--port={stack.ports.triton + 10}",
        f"--build-dir={tmp_path}",
        f"--output={tmp_path / 'table.md'}",
    ]
    # 32-50 s on 2 shared cores, nearly all of it loading the two copies (torch, the encoder)
    done = subprocess.run(argv, capture_output=True, text=True, timeout=90, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {m["batching"]: m for m in ROW.finditer(done.stdout)}
    assert set(rows) == {"on", "off"}, done.stdout
    for row in rows.values():
        assert float(row["rate"].replace(",", "")) > 0
        assert 0 < float(row["p50"]) <= float(row["p95"])
    # without its batcher Triton runs every request alone; with it, never less than one
    assert float(rows["off"]["formed"]) == 1.0
    assert float(rows["on"]["formed"]) >= 1.0
    assert (tmp_path / "table.md").read_text() in done.stdout + "\n"
    generated = tmp_path / "model_repository" / "text_embedding_unbatched" / "config.pbtxt"
    assert "kind: KIND_CPU" in generated.read_text()
    assert CONFIG.read_bytes() == before
    assert "gpu-check-triton stopped" in done.stderr
