"""OCR: the full reader against the gated one (a cheap small detector pass first), side by side.

Both are ``glassbox.nn.ocr.TextReader`` with one onnxruntime thread, run in this process on the
same images, alternating which goes first; every image is first shrunk to the evidence size
(longest side ``--max-side``, 1280 like ``settings.ocr_max_side``), as the analysis does.

Sets:

- **photos**: the 40 judged photos (``eval_data/queries.json``) and the keyframes of the sample
  videos (one every 4 s, as ``bench/ingest.py`` takes them; decoded here with OpenCV);
- **package photos**: the other ``*.jpg`` / ``*.png`` in ``/usr/share/darknet/data`` and
  ``/usr/share/doc/opencv-doc/examples/data``;
- **synthetic**: words rendered with Pillow in several installed fonts at heights 8-60 px,
  dark on light and light on dark on plain backgrounds, drawn onto real photos, rotated a
  little, and two document-like pages;
- **card**: the moderation demo's contact card (``glassbox.moderation.samples``).

Tables: per set, the images, those the full reader reads any line in, how many of them the gate
passes, lines read by each (and whether the texts are identical where the gate passes), the
lines the analysis would use (score >= 0.8, two or more letters or digits), ms per image and
the ratio; then the images lost and why; then a sweep of gate settings over the same images
(the small pass's cost measured, the full pass's taken from the full reader's own times).

Run:  .venv-models/bin/python bench/ocr.py [--max-side 1280] [--quick]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "services")]

from glassbox.evidence_types import TextLine  # noqa: E402
from glassbox.nn.ocr import Gate, TextReader, gate_postprocess  # noqa: E402

QUERIES_JSON = REPO / "services" / "glassbox" / "evaluation" / "eval_data" / "queries.json"
DARKNET = Path("/usr/share/darknet/data")
OPENCV = Path("/usr/share/doc/opencv-doc/examples/data")
VIDEOS = [OPENCV / "Megamind.avi", OPENCV / "vtest.avi"]
PACKAGE_FOLDERS = {"skimage": ("skimage", "data"), "sklearn": ("sklearn", "datasets/images")}
FONTS = (  # several families and styles that Debian's fonts-liberation / fonts-dejavu install
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif-Italic.ttf",
)
HEIGHTS = (8, 10, 12, 16, 20, 24, 32, 44, 60)  # font size in px (cap height is about 0.7 of it)
PHRASES = (
    "OPEN 24 HOURS",
    "Platform 9 to Leeds",
    "Fresh bread 2.50",
    "No parking here",
    "Glassbox reads text",
    "Exit 42 Northbound",
)
USED_MIN_SCORE = 0.8  # settings.ocr_min_score: lines the analysis puts in the search vector
# gate settings the sweep tries: scale of the full pass's input, (thresh, box_thresh)
SWEEP_SCALES = (0.35, 0.42, 0.5, 0.65)
SWEEP_THRESHOLDS = ((0.3, 0.5), (0.2, 0.3), (0.1, 0.2), (0.05, 0.1))


@dataclass
class Sample:
    name: str
    group: str
    image: np.ndarray


@dataclass
class Result:
    sample: Sample
    full: list[TextLine]
    gated: list[TextLine]
    full_ms: float
    gated_ms: float
    opened: bool  # whether the gated reader ran its full pass
    sweep: dict[tuple[float, float, float], bool] = field(default_factory=dict)  # opens?
    map_ms: dict[float, float] = field(default_factory=dict)


def evidence(image: np.ndarray, max_side: int) -> np.ndarray:
    """The image as the analysis gives it to OCR (``ImageState.evidence_image``)."""
    from PIL import Image

    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale >= 1:
        return image
    pil = Image.fromarray(image)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(pil.resize(size), dtype=np.uint8)


def load_rgb(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()


def judged_paths() -> list[Path]:
    """The judged corpus's files (``skimage:`` / ``sklearn:`` names resolved in this venv)."""
    import importlib.util

    out = []
    for name in json.loads(QUERIES_JSON.read_text())["corpus"]:
        prefix, sep, rest = name.partition(":")
        if sep and prefix in PACKAGE_FOLDERS:
            package, folder = PACKAGE_FOLDERS[prefix]
            spec = importlib.util.find_spec(package)
            assert spec is not None and spec.origin is not None, package
            path = Path(spec.origin).parent / folder / rest
        else:
            path = Path(name)
        if path.exists():
            out.append(path)
    return out


def keyframes(path: Path, every_s: float = 4.0) -> list[np.ndarray]:
    """One frame every ``every_s`` seconds, through a JPEG at quality 90 like the worker's."""
    import cv2
    from PIL import Image

    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    out, index, next_t = [], 0, 0.0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        t = index / fps
        index += 1
        if t + 1e-6 < next_t:
            continue
        buf = io.BytesIO()
        Image.fromarray(frame[:, :, ::-1]).save(buf, format="JPEG", quality=90)
        out.append(np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB")))
        next_t = t + every_s
    capture.release()
    return out


def photo_sets() -> tuple[list[Sample], list[Sample]]:
    judged = judged_paths()
    photos = [Sample(p.name, "photos", load_rgb(p)) for p in judged]
    for video in VIDEOS:
        if video.exists():
            for k, frame in enumerate(keyframes(video)):
                photos.append(Sample(f"{video.stem}#{k}", "photos", frame))
    seen = {p.resolve() for p in judged}
    others = sorted(
        p
        for folder in (DARKNET, OPENCV)
        for pattern in ("*.jpg", "*.png")
        for p in folder.glob(pattern)
        if p.resolve() not in seen
    )
    package = [Sample(p.name, "package photos", load_rgb(p)) for p in others]
    return photos, package


def _font(path: str, px: int):
    from PIL import ImageFont

    return ImageFont.truetype(path, px)


def _text_layer(text: str, font, fill: tuple[int, int, int]):
    """The text alone on a transparent layer just large enough for it (RGBA)."""
    from PIL import Image, ImageDraw

    x0, y0, x1, y1 = font.getbbox(text)
    layer = Image.new("RGBA", (x1 - x0 + 8, y1 - y0 + 8), (0, 0, 0, 0))
    ImageDraw.Draw(layer).text((4 - x0, 4 - y0), text, font=font, fill=(*fill, 255))
    return layer


def synthetic_set(backgrounds: list[np.ndarray]) -> list[Sample]:
    """Rendered words (deterministic): every font × height × style, plus two pages."""
    fonts = [f for f in FONTS if Path(f).is_file()]
    rng = np.random.default_rng(14)
    out, k = [], 0
    for font_path in fonts:
        for px in HEIGHTS:
            font = _font(font_path, px)
            for style in ("dark-on-light", "light-on-dark", "on-photo", "rotated"):
                k += 1
                photo = backgrounds[k % len(backgrounds)]
                image = _render(PHRASES[k % len(PHRASES)], font, px, style, photo, rng)
                name = f"{Path(font_path).stem} {px}px {style}"
                out.append(Sample(name, "synthetic", image))
    out.extend(_documents())
    return out


def _render(text: str, font, px: int, style: str, photo: np.ndarray, rng) -> np.ndarray:
    """One line of ``text`` on a 1280 × 960 plain canvas (dark on light, light on dark,
    or dark on light turned 3-8°), or on ``photo`` scaled to 1280 wide, in whichever of
    near-white and near-black contrasts with the photo where it lands."""
    from PIL import Image

    if style == "on-photo":
        canvas = Image.fromarray(photo).convert("RGB")
        canvas = canvas.resize((1280, round(1280 * canvas.height / canvas.width)))
    else:
        shade = (28, 30, 38) if style == "light-on-dark" else (238, 236, 228)
        canvas = Image.new("RGB", (1280, 960), shade)
    x = int(rng.integers(40, 600))
    y = int(rng.integers(40, max(41, canvas.height - 160)))
    fill = (20, 22, 30)
    if style == "light-on-dark":
        fill = (240, 240, 235)
    elif style == "on-photo":
        patch = np.asarray(canvas.convert("L"))[y : y + px, x : x + 10 * px]
        fill = (245, 245, 240) if float(patch.mean()) < 128 else (15, 15, 20)
    layer = _text_layer(text, font, fill)
    if style == "rotated":
        angle = float(rng.uniform(3, 8)) * float(rng.choice([-1, 1]))
        layer = layer.rotate(angle, expand=True, resample=Image.BICUBIC)
    canvas.paste(layer, (x, y), layer)
    return np.asarray(canvas, dtype=np.uint8)


def _documents() -> list[Sample]:
    """Two pages of a report: a heading and paragraphs at 14 and at 20 px (A4-ish aspect)."""
    from PIL import Image, ImageDraw

    words = (
        "the index keeps every photo with the evidence that explains why it was found and a "
        "reviewer can see which words were read which regions were seen and how sure the "
        "models were about each of them before a flag is raised or a result is shown"
    ).split()
    out = []
    for body_px in (14, 20):
        page = Image.new("RGB", (1240, 1754), (252, 252, 250))
        draw = ImageDraw.Draw(page)
        draw.text((90, 80), "Quarterly Report 2026", font=_font(FONTS[1], 44), fill=(10, 10, 10))
        font = _font(FONTS[0], body_px)
        y, k = 180, 0
        while y < 1754 - 120:
            line = " ".join(words[(k + j) % len(words)] for j in range(int(900 / body_px)))
            draw.text((90, y), line[: int(1900 / body_px)], font=font, fill=(25, 25, 25))
            y += round(body_px * 1.5)
            k += 7
        out.append(Sample(f"document {body_px}px", "synthetic", np.asarray(page)))
    return out


def card_set() -> list[Sample]:
    from glassbox.moderation.samples import personal_data_card
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(personal_data_card())).convert("RGB"))
    return [Sample("contact card", "card", image)]


def timed(reader: TextReader, image: np.ndarray) -> tuple[list[TextLine], float]:
    start = time.perf_counter()
    lines = reader.read(image)
    return lines, (time.perf_counter() - start) * 1000


def measure(samples: list[Sample], full: TextReader, gated: TextReader, sweep: bool) -> list:
    """Each image through both readers (alternating who goes first), then the sweep's maps."""
    posts = {t: gate_postprocess(Gate(0.5, *t), full.engine) for t in SWEEP_THRESHOLDS}
    results = []
    for k, sample in enumerate(samples):
        if k % 2:
            got_gated, gated_ms = timed(gated, sample.image)
            got_full, full_ms = timed(full, sample.image)
        else:
            got_full, full_ms = timed(full, sample.image)
            got_gated, gated_ms = timed(gated, sample.image)
        opened = gated.may_hold_text(sample.image)
        result = Result(sample, got_full, got_gated, full_ms, gated_ms, opened)
        if sweep:
            for scale in SWEEP_SCALES:
                start = time.perf_counter()
                small = full.small_pass(sample.image, scale)
                result.map_ms[scale] = (time.perf_counter() - start) * 1000
                for key, post in posts.items():
                    opens = small is None or small.opens(post, gated.gate.min_contrast)
                    result.sweep[(scale, *key)] = opens
        results.append(result)
        print(f"  {sample.group}: {k + 1}/{len(samples)}", end="\r", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return results


def used(lines: list[TextLine]) -> list[TextLine]:
    """The lines the analysis puts in the search vector (``steps.text_channel`` rule)."""
    return [
        ln for ln in lines if ln.score >= USED_MIN_SCORE and sum(c.isalnum() for c in ln.text) >= 2
    ]


def set_table(groups: dict[str, list[Result]]) -> str:
    rows = [
        "| set | images | with text (full) | gate passes | lines full / gated | texts identical"
        " | used lines full / gated | gate opens, no text | ms full | ms gated | gated / full |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for group, results in groups.items():
        texty = [r for r in results if r.full]
        passed = [r for r in texty if r.gated]
        same = sum(r.full == r.gated for r in results if r.gated or not r.full)
        empty = [r for r in results if not r.full]
        opens = sum(r.opened for r in empty)
        full_ms = statistics.fmean(r.full_ms for r in results)
        gated_ms = statistics.fmean(r.gated_ms for r in results)
        rows.append(
            f"| {group} | {len(results)} | {len(texty)} | {len(passed)} / {len(texty)} |"
            f" {sum(len(r.full) for r in results)} / {sum(len(r.gated) for r in results)} |"
            f" {same} / {len(results) - len(texty) + len(passed)} |"
            f" {sum(len(used(r.full)) for r in results)} /"
            f" {sum(len(used(r.gated)) for r in results)} |"
            f" {opens} / {len(empty)} | {full_ms:.0f} | {gated_ms:.0f} |"
            f" {gated_ms / full_ms:.2f} |"
        )
    return "\n".join(rows)


def lost_table(results: list[Result]) -> str:
    lost = [r for r in results if r.full and not r.gated]
    if not lost:
        return "No image with text was lost by the gate."
    rows = ["| set | image | lines the full reader read (text, score) |", "|---|---|---|"]
    for r in lost:
        read = ", ".join(f"{ln.text!r} {ln.score:.2f}" for ln in r.full[:4])
        more = f" (+{len(r.full) - 4})" if len(r.full) > 4 else ""
        rows.append(f"| {r.sample.group} | {r.sample.name} | {read}{more} |")
    return "\n".join(rows)


def sweep_table(title: str, results: list[Result]) -> str:
    """Per gate setting: text images lost, images with used lines lost, no-text images the
    gate shuts, and the estimated ms per image (small pass + full pass where it opens)."""
    texty = [r for r in results if r.full]
    useful = [r for r in results if used(r.full)]
    empty = [r for r in results if not r.full]
    full_ms = statistics.fmean(r.full_ms for r in results)
    rows = [
        f"**{title}** ({len(results)} images, {len(texty)} with text, {len(useful)} with used"
        f" lines; full reader {full_ms:.0f} ms/image)",
        "",
        "| scale | thresh / box | text images lost | used-line images lost | no-text shut"
        " | small pass ms | est. ms/image | est. / full |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for scale in SWEEP_SCALES:
        map_ms = statistics.fmean(r.map_ms[scale] for r in results)
        for thresh, box in SWEEP_THRESHOLDS:
            key = (scale, thresh, box)
            lost = sum(not r.sweep[key] for r in texty)
            lost_used = sum(not r.sweep[key] for r in useful)
            shut = sum(not r.sweep[key] for r in empty)
            est = statistics.fmean(
                r.map_ms[scale] + (r.full_ms if r.sweep[key] else 0.0) for r in results
            )
            rows.append(
                f"| {scale} | {thresh} / {box} | {lost} | {lost_used} | {shut} / {len(empty)} |"
                f" {map_ms:.0f} | {est:.0f} | {est / full_ms:.2f} |"
            )
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--max-side", type=int, default=1280, help="evidence size (longest side)")
    ap.add_argument("--scale", type=float, default=Gate().scale, help="the gate's scale")
    ap.add_argument("--thresh", type=float, default=Gate().thresh)
    ap.add_argument("--box-thresh", type=float, default=Gate().box_thresh)
    ap.add_argument("--no-sweep", action="store_true", help="only the chosen gate")
    ap.add_argument("--quick", action="store_true", help="every fourth image of each set")
    args = ap.parse_args()

    photos, package = photo_sets()
    backgrounds = [s.image for s in photos[:12]]
    sets = {
        "photos": photos,
        "package photos": package,
        "synthetic": synthetic_set(backgrounds),
        "card": card_set(),
    }
    gate = replace(Gate(), scale=args.scale, thresh=args.thresh, box_thresh=args.box_thresh)
    full = TextReader(threads=1)
    gated = TextReader(threads=1, gate=gate)
    timed(full, np.full((480, 640, 3), 128, np.uint8))  # first runs pay onnxruntime's set-up
    timed(gated, np.full((480, 640, 3), 128, np.uint8))
    groups: dict[str, list[Result]] = {}
    for name, samples in sets.items():
        samples = samples[::4] if args.quick and len(samples) > 4 else samples
        for s in samples:
            s.image = evidence(s.image, args.max_side)
        groups[name] = measure(samples, full, gated, not args.no_sweep)

    print(f"## OCR gate: {gate} against the full reader (evidence longest side {args.max_side})")
    print()
    print(set_table(groups))
    print()
    print(
        "`texts identical`: images where the gated reader's lines equal the full reader's, of"
        " those it passes or that have no text. `gate opens, no text`: images without text for"
        " which the gate opened (the full pass ran for nothing)."
    )
    print()
    print("### Images with text that the gate lost")
    print()
    print(lost_table([r for rs in groups.values() for r in rs]))
    if not args.no_sweep:
        print()
        print("### Gate settings swept over the same images")
        print()
        photos_all = groups["photos"] + groups["package photos"]
        print(sweep_table("photos and package photos", photos_all))
        print()
        print(sweep_table("synthetic and card", groups["synthetic"] + groups["card"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
