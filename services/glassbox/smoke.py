"""Check a running Triton against the same models run locally.

    python -m glassbox.smoke --url 127.0.0.1:8100      (in .venv-models)

Sends darknet's dog photo through ``image_concepts`` and a few sentences through
``text_embedding``, computes the same with ``glassbox.nn`` from the weights in the model
repository, prints a short report and exits non-zero on any mismatch.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException

from glassbox.concepts import ConceptBank
from glassbox.config import get_settings
from glassbox.imaging import decode_rgb, model_input

DOG_PHOTO = Path("/usr/share/darknet/data/dog.jpg")  # Debian package darknet
DOG_CLASSES = range(151, 269)  # ImageNet-1k's dog breeds, torchvision order
IMAGE_OUTPUTS = ("CONCEPT_LOGITS", "POOLED_FEATURES", "CAM_INDICES", "CAMS", "CAM_BIAS")
SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "A dog runs across the grass.",
    "Quarterly revenue fell short of expectations.",
]
LOGIT_ATOL = 1e-3
COSINE_MIN = 0.999


class Report:
    def __init__(self):
        self.failures = 0

    def check(self, ok: bool, what: str) -> None:
        self.failures += not ok
        print(f"  [{'ok' if ok else 'FAIL'}] {what}")


def check_image(client, repo: Path, report: Report) -> None:
    from glassbox.nn.mobilenet_v2 import load_concept_net

    print("image_concepts")
    image = model_input(decode_rgb(DOG_PHOTO.read_bytes()), 224)[None]
    inp = httpclient.InferInput("IMAGE", list(image.shape), "UINT8")
    inp.set_data_from_numpy(image)
    outs = [httpclient.InferRequestedOutput(name) for name in IMAGE_OUTPUTS]
    t0 = time.perf_counter()
    result = client.infer("image_concepts", [inp], outputs=outs)
    elapsed = (time.perf_counter() - t0) * 1000
    served = {name: result.as_numpy(name) for name in IMAGE_OUTPUTS}
    local = load_concept_net(repo / "image_concepts" / "1" / "mobilenet_v2.pth").run(image)

    logits = served["CONCEPT_LOGITS"][0]
    top1 = int(logits.argmax())
    bank_path = repo / "image_concepts" / "1" / "concept_bank.npz"
    name = ConceptBank.load(bank_path).name(top1) if bank_path.is_file() else "?"
    diff = float(np.abs(logits - local.logits[0]).max())
    print(f"  {DOG_PHOTO.name}: top-1 {top1} {name!r} (logit {logits[top1]:.2f}), {elapsed:.0f} ms")
    report.check(diff <= LOGIT_ATOL, f"logits match the local model (max |diff| {diff:.2e})")
    report.check(top1 == int(local.logits[0].argmax()), "top-1 identical to the local model")
    report.check(top1 in DOG_CLASSES, "top-1 is a dog breed")
    idx = served["CAM_INDICES"][0]
    report.check(
        np.array_equal(idx, local.cam_indices[0]) and np.all(np.diff(logits[idx]) <= 0),
        "CAM_INDICES are the local top-16, in descending logit order",
    )
    exact = float(
        np.abs(served["CAMS"][0].mean(axis=(1, 2)) + served["CAM_BIAS"][0] - logits[idx]).max()
    )
    report.check(exact <= 1e-4, f"CAM mean + bias == logit (max |diff| {exact:.2e})")
    shapes = {k: v.shape[1:] for k, v in served.items()}
    expected = {
        "CONCEPT_LOGITS": (1000,),
        "POOLED_FEATURES": (1280,),
        "CAM_INDICES": (16,),
        "CAMS": (16, 7, 7),
        "CAM_BIAS": (16,),
    }
    report.check(shapes == expected, f"output shapes {shapes}")


def check_text(client, repo: Path, report: Report) -> None:
    from glassbox.nn.text_encoder import TextEncoder

    print("text_embedding")
    texts = np.array([[s.encode()] for s in SENTENCES], dtype=np.object_)
    inp = httpclient.InferInput("TEXT", list(texts.shape), "BYTES")
    inp.set_data_from_numpy(texts)
    t0 = time.perf_counter()
    served = client.infer("text_embedding", [inp]).as_numpy("EMBEDDING")
    elapsed = (time.perf_counter() - t0) * 1000
    local = TextEncoder(repo / "text_embedding" / "1" / "encoder").encode(SENTENCES)
    cosine = (served * local).sum(axis=1) / np.linalg.norm(served, axis=1)
    print(f"  {len(SENTENCES)} sentences, {served.shape[1]}-d, {elapsed:.0f} ms")
    report.check(
        cosine.min() >= COSINE_MIN,
        f"cosine to the local encoder >= {COSINE_MIN} (min {cosine.min():.6f})",
    )
    report.check(bool(np.allclose(np.linalg.norm(served, axis=1), 1, atol=1e-4)), "unit length")
    para, unrelated = served[0] @ served[1], served[0] @ served[3]
    report.check(para > unrelated, f"paraphrase {para:.3f} > unrelated {unrelated:.3f}")

    bad = httpclient.InferInput("TEXT", [1, 1], "BYTES")
    bad.set_data_from_numpy(np.array([[b"\xff\xfe not utf-8"]], dtype=np.object_))
    good = httpclient.InferInput("TEXT", [1, 1], "BYTES")
    good.set_data_from_numpy(texts[:1])
    pending = [client.async_infer("text_embedding", [x]) for x in (bad, good)]
    try:
        pending[0].get_result()
        rejected = False
    except InferenceServerException:
        rejected = True
    report.check(rejected, "a non-UTF-8 TEXT gets its own error")
    again = pending[1].get_result().as_numpy("EMBEDDING")
    report.check(float(again[0] @ served[0]) >= COSINE_MIN, "the request beside it still succeeds")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m glassbox.smoke", description=__doc__)
    parser.add_argument("--url", default=get_settings().triton_url, help="Triton HTTP host:port")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    repo = get_settings().model_repository
    client = httpclient.InferenceServerClient(
        args.url, concurrency=2, connection_timeout=args.timeout, network_timeout=args.timeout
    )
    report = Report()
    try:
        if not client.is_server_ready():
            print(f"Triton at {args.url} is not ready", file=sys.stderr)
            return 2
        for model in ("image_concepts", "text_embedding"):
            report.check(client.is_model_ready(model), f"{model} is ready at {args.url}")
        check_image(client, repo, report)
        check_text(client, repo, report)
    except (InferenceServerException, ConnectionError, OSError) as exc:
        print(f"smoke: cannot talk to Triton at {args.url}: {exc}", file=sys.stderr)
        return 2
    finally:
        client.close()
    print("smoke: OK" if report.failures == 0 else f"smoke: {report.failures} check(s) FAILED")
    return 0 if report.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
