"""Check a running Triton's ``ocr`` and ``nsfw_detector`` against the same models run locally.

    python -m glassbox.smoke_ocr_nsfw --url 127.0.0.1:8100      (in .venv-models)

Renders "GLASSBOX 2026" with Pillow and sends it through ``ocr``; sends darknet's dog photo
(safe) through ``nsfw_detector``; runs ``glassbox.nn.ocr`` / ``glassbox.nn.nsfw`` on the same
pixels, prints a short report and exits non-zero on any mismatch.

``render_text`` is also what the tests use to make an image with known text.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

SMOKE_TEXT = "GLASSBOX 2026"
DOG_PHOTO = Path("/usr/share/darknet/data/dog.jpg")  # Debian package darknet
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",  # Debian fonts-liberation
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
)
EXPOSED_MAX = 0.5  # a safe photo may have no *_EXPOSED detection scoring this or more
BOX_ATOL = 0.01  # served boxes (fractions) vs local boxes
SCORE_ATOL = 1e-3


def render_text(
    text: str = SMOKE_TEXT,
    size: tuple[int, int] = (800, 240),
    font_px: int = 72,
    origin: tuple[int, int] = (40, 80),
) -> np.ndarray:
    """Black text on white, RGB uint8 ``[H, W, 3]`` (``size`` is width, height)."""
    from PIL import Image, ImageDraw, ImageFont

    font = None
    for path in FONT_CANDIDATES:
        if Path(path).is_file():
            font = ImageFont.truetype(path, font_px)
            break
    if font is None:
        font = ImageFont.load_default(size=font_px)
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).text(origin, text, font=font, fill="black")
    return np.asarray(image, dtype=np.uint8).copy()


def load_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


class Report:
    def __init__(self):
        self.failures = 0

    def check(self, ok: bool, what: str) -> None:
        self.failures += not ok
        print(f"  [{'ok' if ok else 'FAIL'}] {what}")


def _infer(client, model: str, image: np.ndarray, names: tuple[str, ...]):
    import tritonclient.http as httpclient

    batch = image[None]
    inp = httpclient.InferInput("IMAGE", list(batch.shape), "UINT8")
    inp.set_data_from_numpy(batch)
    outs = [httpclient.InferRequestedOutput(name) for name in names]
    t0 = time.perf_counter()
    result = client.infer(model, [inp], outputs=outs)
    elapsed = (time.perf_counter() - t0) * 1000
    served = {name: result.as_numpy(name)[0] for name in names}
    return served, elapsed


def _fractions(box, width: int, height: int) -> np.ndarray:
    from glassbox.evidence_types import to_fractions

    return np.array(to_fractions(box, width, height), dtype=np.float32)


def check_ocr(client, report: Report) -> None:
    from glassbox.nn.ocr import TextReader

    print("ocr")
    image = render_text()
    height, width = image.shape[:2]
    served, elapsed = _infer(client, "ocr", image, ("COUNT", "TEXTS", "BOXES", "SCORES"))
    n = int(served["COUNT"][0])
    texts = [t.decode() for t in served["TEXTS"][:n]]
    local = TextReader().read(image)
    print(f"  rendered {SMOKE_TEXT!r}: read {texts}, {elapsed:.0f} ms")
    report.check(any(SMOKE_TEXT.lower() in t.lower() for t in texts), f"{SMOKE_TEXT!r} is read")
    report.check(texts == [line.text for line in local], "texts identical to the local reader")
    if n == len(local) and n > 0:
        want = np.stack([_fractions(line.box, width, height) for line in local])
        diff = float(np.abs(served["BOXES"][:n] - want).max())
        report.check(diff <= BOX_ATOL, f"boxes match the local reader (max |diff| {diff:.2e})")
        sdiff = float(np.abs(served["SCORES"][:n] - [line.score for line in local]).max())
        report.check(sdiff <= SCORE_ATOL, f"scores match the local reader (max |diff| {sdiff:.1e})")
    report.check(
        served["TEXTS"].shape == (64,) and served["BOXES"].shape == (64, 4),
        f"padded to 64 lines (TEXTS {served['TEXTS'].shape}, BOXES {served['BOXES'].shape})",
    )
    blank, _ = _infer(client, "ocr", np.full((200, 300, 3), 255, np.uint8), ("COUNT",))
    report.check(int(blank["COUNT"][0]) == 0, "a blank image has no text")


def check_nsfw(client, report: Report) -> None:
    from glassbox.nn.nsfw import NsfwDetector

    print("nsfw_detector")
    image = load_rgb(DOG_PHOTO)
    height, width = image.shape[:2]
    served, elapsed = _infer(client, "nsfw_detector", image, ("COUNT", "LABELS", "BOXES", "SCORES"))
    n = int(served["COUNT"][0])
    labels = [t.decode() for t in served["LABELS"][:n]]
    scores = served["SCORES"][:n]
    local = NsfwDetector().detect(image)
    found = ", ".join(f"{lab} {s:.2f}" for lab, s in zip(labels, scores, strict=True))
    print(f"  {DOG_PHOTO.name}: {found or 'nothing'}, {elapsed:.0f} ms")
    exposed = [s for lab, s in zip(labels, scores, strict=True) if lab.endswith("_EXPOSED")]
    report.check(
        max(exposed, default=0.0) < EXPOSED_MAX,
        f"no *_EXPOSED label scores >= {EXPOSED_MAX} on a safe photo",
    )
    report.check(labels == [d.label for d in local], "labels identical to the local detector")
    if n == len(local) and n > 0:
        sdiff = float(np.abs(scores - [d.score for d in local]).max())
        report.check(sdiff <= SCORE_ATOL, f"scores match the local detector ({sdiff:.1e})")
        want = np.stack([_fractions(d.box, width, height) for d in local])
        diff = float(np.abs(served["BOXES"][:n] - want).max())
        report.check(diff <= BOX_ATOL, f"boxes match the local detector ({diff:.2e})")
    report.check(served["LABELS"].shape == (32,), f"padded to 32 ({served['LABELS'].shape})")


def main(argv: list[str] | None = None) -> int:
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    from glassbox.config import get_settings

    parser = argparse.ArgumentParser(prog="python -m glassbox.smoke_ocr_nsfw", description=__doc__)
    parser.add_argument("--url", default=get_settings().triton_url, help="Triton HTTP host:port")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    client = httpclient.InferenceServerClient(
        args.url, connection_timeout=args.timeout, network_timeout=args.timeout
    )
    report = Report()
    try:
        if not client.is_server_ready():
            print(f"Triton at {args.url} is not ready", file=sys.stderr)
            return 2
        for model in ("ocr", "nsfw_detector"):
            report.check(client.is_model_ready(model), f"{model} is ready at {args.url}")
        check_ocr(client, report)
        check_nsfw(client, report)
    except (InferenceServerException, ConnectionError, OSError) as exc:
        print(f"smoke: cannot talk to Triton at {args.url}: {exc}", file=sys.stderr)
        return 2
    finally:
        client.close()
    print("smoke: OK" if report.failures == 0 else f"smoke: {report.failures} check(s) FAILED")
    return 0 if report.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
