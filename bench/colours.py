"""The colour words the analysis would give each detected object of the sample photos.

Runs SSD-MobileNetV2 in process (``glassbox.nn.ssd``, as the ``object_detection`` Triton model
does) on darknet's and OpenCV's sample photos, and prints, for each detection at or above
``--min-score``, the colour evidence of its box (``glassbox.detection.colour.region_colour``):
the name and how it was chosen (dominant share or accent), or "-" for no colour word. People
are listed too, though the analysis never names their colour.

Run:  .venv-models/bin/python bench/colours.py [--min-score 0.4]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "services"))

from glassbox.detection import colour  # noqa: E402
from glassbox.evidence_types import to_fractions  # noqa: E402
from glassbox.nn.ssd import ObjectDetector  # noqa: E402

FOLDERS = (Path("/usr/share/darknet/data"), Path("/usr/share/doc/opencv-doc/examples/data"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--min-score", type=float, default=0.4)
    args = ap.parse_args()
    detector = ObjectDetector(REPO / "model_repository" / "object_detection" / "1")
    photos = sorted(p for f in FOLDERS for p in f.glob("*.jpg"))
    if not photos:
        print("no sample photos: run infra/bin/setup (darknet, opencv-doc)", file=sys.stderr)
        return 2
    print("| photo | tone | detection | score | colour evidence |")
    print("|---|---|---|---|---|")
    for path in photos:
        image = np.asarray(Image.open(path).convert("RGB"))
        h, w = image.shape[:2]
        tone = colour.image_tone(image)
        for d in detector.detect(image):
            if d.score < args.min_score:
                continue
            found = colour.region_colour(image, to_fractions(d.box, w, h), tone=tone)
            print(f"| {path.name} | {tone} | {d.label} | {d.score:.2f} | {found.text or '-'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
