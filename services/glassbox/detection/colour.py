"""The dominant colour of a region, named from a small palette in CIELAB (numpy only).

A region is a detection's box, optionally narrowed to where the concept's class-activation
map (a 7x7 CAM over the image, upsampled bilinearly) reaches half its peak. Each pixel is
converted sRGB -> linear RGB -> XYZ (D65) -> L*a*b* and named:

- **black** when L* < ``dark_l`` (10), whatever its chroma: near black, hue is noise;
- **achromatic** when its chroma C* = hypot(a*, b*) < ``chroma_min`` (12): **black**,
  **grey** or **white** by L* (under ``black_l`` (22) / from ``white_l`` (78) up);
- else the nearest **anchor** of the chromatic palette (:data:`ANCHORS`: red, orange,
  yellow, green, blue, purple, pink, brown, a few sRGB shades each) by Euclidean distance in
  L*a*b* (CIE76): brown is dark orange, pink light red, so lightness counts too.

:func:`dominant` names a colour only when its share is clear: at least ``min_share`` (35%)
and ``margin`` (15 points) ahead of the next. :func:`region_colour` also asks that a box's
colour be ``surround_margin`` more common inside the box than in the band around it: a box
holds background, and the grey road round a bicycle's frame is the road's colour. The
evidence is the share ("red 62%") and a swatch, the mean sRGB of the pixels so named.

A thin object (a bicycle's frame, a kite's sail against the sky) fills little of its box, so
no colour is dominant there. :func:`accent` then names the colour people call it by: a
**vivid** chromatic colour (its pixels' mean chroma at least ``accent_chroma``, 45) that is
concentrated in the box, at least ``accent_excess`` (1.5 points) more common in the box than
around it and ``accent_lift`` (4) times as common, and at least twice the excess of any other
vivid colour. Black tyres and grey road are not accents: achromatic names never are. The
evidence then reads "red accent 2% (10× around the box)".

A greyscale or sepia image gets no colour words (:func:`image_tone`): greyscale when under
1% of its pixels reach ``chroma_min``; sepia when the hues lie in one narrow band (the
chroma-weighted mean resultant length of the hue angles at least 0.95, about 18 degrees of
spread) and its coloured pixels stay dull (their 95th percentile of chroma under 35). A small
red object on white is neither: its few pixels are vivid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from glassbox.evidence_types import Box

NAMES = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown")
ACHROMATIC = ("black", "grey", "white")
PALETTE = NAMES + ACHROMATIC
# sRGB shades per chromatic name; a pixel takes the name of its nearest shade in L*a*b*.
ANCHORS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "red": ((210, 30, 35), (150, 20, 30), (235, 75, 65)),
    "orange": ((245, 135, 20), (225, 105, 45), (250, 170, 80)),
    "yellow": ((250, 225, 40), (225, 205, 95), (240, 230, 150), (185, 170, 70), (150, 140, 55)),
    "green": ((40, 150, 50), (30, 85, 35), (140, 195, 90), (90, 120, 60)),
    "blue": ((35, 85, 200), (25, 45, 115), (15, 20, 95), (110, 165, 225), (70, 120, 160)),
    "purple": ((125, 50, 160), (75, 35, 105), (175, 120, 205)),
    "pink": ((245, 150, 190), (225, 80, 150), (240, 190, 200)),
    "brown": ((135, 85, 40), (95, 60, 35), (170, 125, 85), (70, 45, 30)),
}


@dataclass(frozen=True, kw_only=True)
class ColourRules:
    chroma_min: float = 12.0
    dark_l: float = 10.0  # darker than this: black, whatever the chroma
    black_l: float = 22.0  # achromatic and darker than this: black
    white_l: float = 78.0  # achromatic and at least this light: white
    min_share: float = 0.35
    margin: float = 0.15
    surround: float = 0.25  # the band around a box, as a fraction of its width and height
    surround_margin: float = 0.15  # the dominant colour's lead over its share around the box
    cam_level: float = 0.5  # of the CAM's peak: the part of the box the concept occupies
    accent_chroma: float = 45.0  # an accent's pixels are this vivid, on average
    accent_excess: float = 0.015  # its share in the box minus its share around it
    accent_lift: float = 4.0  # its share in the box over its share around it
    accent_lead: float = 2.0  # its excess over any other vivid colour's
    min_pixels: int = 16  # a region with fewer pixels gets no colour
    max_pixels: int = 250_000  # larger regions are sampled on a regular grid
    grey_colourful: float = 0.01  # under this share of chromatic pixels: greyscale
    sepia_resultant: float = 0.95
    sepia_chroma: float = 35.0


RULES = ColourRules()


@dataclass(frozen=True)
class RegionColour:
    """A region's colour shares and, when clear, its dominant colour."""

    shares: dict[str, float]  # name -> share of the region's pixels, largest first
    swatches: dict[str, tuple[int, int, int]]  # name -> mean sRGB of its pixels
    pixels: int
    tone: str = "colour"  # the whole image's: "colour" | "greyscale" | "sepia"
    name: str | None = None  # the dominant colour (None: not clear, or no colour words)
    surround: dict[str, float] = field(default_factory=dict)  # shares around the box
    basis: str = ""  # how ``name`` was chosen: "dominant", "accent", or "" (no name)

    @property
    def share(self) -> float:
        return self.shares.get(self.name, 0.0) if self.name else 0.0

    @property
    def swatch(self) -> tuple[int, int, int] | None:
        return self.swatches.get(self.name) if self.name else None

    @property
    def text(self) -> str:
        """ "red 62%", "red accent 2% (10× around the box)", or "" without a colour name."""
        if not self.name:
            return ""
        if self.basis == "accent":
            around = self.surround.get(self.name, 0.0)
            lift = f"{self.share / around:.0f}× around the box" if around > 0 else "none around it"
            return f"{self.name} accent {self.share:.0%} ({lift})"
        return f"{self.name} {self.share:.0%}"

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "share": round(self.share, 4),
            "swatch": list(self.swatch) if self.swatch else None,
            "text": self.text,
            "tone": self.tone,
            "basis": self.basis,
            "shares": {k: round(v, 4) for k, v in self.shares.items()},
        }


def _linear(c: np.ndarray) -> np.ndarray:
    """sRGB's transfer function undone: values in [0, 1] to linear light."""
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


# the 256 linear values of uint8 sRGB: a lookup gives the same numbers as _linear, faster
_LINEAR_U8 = _linear(np.arange(256, dtype=np.float64) / 255.0)


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB values ``[..., 3]``: uint8, or floats in [0, 1]."""
    c = np.asarray(rgb)
    linear = _LINEAR_U8[c] if c.dtype == np.uint8 else _linear(c.astype(np.float64))
    xyz = linear @ _RGB_TO_XYZ.T / _WHITE_D65
    eps = (6 / 29) ** 3
    f = np.where(xyz > eps, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lab = np.empty_like(f)
    lab[..., 0] = 116 * f[..., 1] - 16
    lab[..., 1] = 500 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200 * (f[..., 1] - f[..., 2])
    return lab


def classify(lab: np.ndarray, rules: ColourRules = RULES) -> np.ndarray:
    """Index into :data:`PALETTE` of each L*a*b* value ``[..., 3]`` (rules: module docstring)."""
    lab = np.asarray(lab, dtype=np.float64)
    flat = lab.reshape(-1, 3)
    nearest = np.empty(flat.shape[0], dtype=np.int64)
    for start in range(0, flat.shape[0], 65536):  # bounded memory: pixels x anchors
        part = flat[start : start + 65536]
        # squared distance to each anchor, less the pixel's own |p|^2 (the same for every
        # anchor, so the nearest is the same)
        d2 = _ANCHOR_SQ - 2 * part @ _ANCHOR_LAB.T
        nearest[start : start + 65536] = _ANCHOR_NAME[np.argmin(d2, axis=1)]
    light, chroma = flat[:, 0], np.hypot(flat[:, 1], flat[:, 2])
    black, grey, white = (PALETTE.index(n) for n in ACHROMATIC)
    achromatic = np.where(
        light < rules.black_l, black, np.where(light >= rules.white_l, white, grey)
    )
    out = np.where((chroma < rules.chroma_min) | (light < rules.dark_l), achromatic, nearest)
    return out.reshape(lab.shape[:-1])


def colour_shares(
    pixels: np.ndarray, rules: ColourRules = RULES
) -> tuple[dict[str, float], dict[str, tuple[int, int, int]]]:
    """``(shares, swatches)`` of sRGB pixels ``[n, 3]``: each palette name's share of the
    pixels (largest first, absent names left out) and the mean sRGB of its pixels."""
    pixels = np.asarray(pixels).reshape(-1, 3)
    if pixels.shape[0] == 0:
        return {}, {}
    return _shares(pixels, classify(srgb_to_lab(pixels), rules))


def _shares(
    pixels: np.ndarray, labels: np.ndarray
) -> tuple[dict[str, float], dict[str, tuple[int, int, int]]]:
    """:func:`colour_shares` of ``pixels`` ``[n, 3]`` (n > 0) already classified."""
    counts = np.bincount(labels, minlength=len(PALETTE))
    shares, swatches = {}, {}
    for k in np.argsort(-counts, kind="stable"):
        if counts[k] == 0:
            break
        rgb = pixels[labels == k].astype(np.float64).mean(axis=0)
        if pixels.dtype != np.uint8:
            rgb = rgb * 255
        shares[PALETTE[k]] = float(counts[k] / pixels.shape[0])
        swatches[PALETTE[k]] = tuple(int(round(v)) for v in np.clip(rgb, 0, 255))
    return shares, swatches


def dominant(
    shares: Mapping[str, float], min_share: float = RULES.min_share, margin: float = RULES.margin
) -> str | None:
    """The colour whose share is clear: at least ``min_share`` and at least ``margin`` ahead
    of the next; else ``None``."""
    ranked = sorted(shares.items(), key=lambda kv: -kv[1])
    if not ranked or ranked[0][1] < min_share:
        return None
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    return ranked[0][0] if ranked[0][1] - second >= margin else None


def image_tone(image: np.ndarray, rules: ColourRules = RULES) -> str:
    """ "greyscale", "sepia" or "colour": whether colour words may be used on ``image``."""
    lab = srgb_to_lab(_sample(np.asarray(image).reshape(-1, 3), rules.max_pixels))
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    coloured = chroma >= rules.chroma_min
    if chroma.size == 0 or np.mean(coloured) < rules.grey_colourful:
        return "greyscale"
    hue = np.arctan2(lab[:, 2], lab[:, 1])
    resultant = abs(np.sum(chroma * np.exp(1j * hue))) / max(float(chroma.sum()), 1e-9)
    strong = np.percentile(chroma[coloured], 95)  # how vivid the coloured part is
    if resultant >= rules.sepia_resultant and strong < rules.sepia_chroma:
        return "sepia"
    return "colour"


def region_pixels(
    image: np.ndarray,
    box: Box | None = None,
    cam: np.ndarray | None = None,
    level: float = RULES.cam_level,
) -> np.ndarray:
    """The sRGB pixels ``[n, 3]`` of ``image`` (``[h, w, 3]``) inside ``box`` (fractions;
    ``None``: all) and, given a ``cam`` over the whole image, where it reaches ``level`` of
    its peak (a CAM with no positive value selects nothing)."""
    image = np.asarray(image)
    h, w = image.shape[:2]
    r0, r1, c0, c1 = _pixel_bounds((0.0, 0.0, 1.0, 1.0) if box is None else box, h, w)
    crop = image[r0:r1, c0:c1]
    if cam is None or crop.size == 0:
        return crop.reshape(-1, 3)
    heat = upsample(np.asarray(cam, dtype=np.float64), (h, w))[r0:r1, c0:c1]
    peak = float(np.max(cam))
    if not np.isfinite(peak) or peak <= 0:
        return crop[:0].reshape(-1, 3)
    return crop[heat >= level * peak]


def region_colour(
    image: np.ndarray,
    box: Box | None = None,
    cam: np.ndarray | None = None,
    rules: ColourRules = RULES,
    tone: str | None = None,
    named: bool = True,
) -> RegionColour:
    """The colour evidence of a region of ``image`` (uint8 ``[h, w, 3]``, sRGB): its shares
    and, when the image has colour (``tone``, computed when not given) and the region enough
    pixels, its dominant colour, unless that colour is the surround's (a box includes
    background: a colour must be ``surround_margin`` more common in the box than in the band
    around it, ``surround`` of the box's size wide)."""
    tone = image_tone(image, rules) if tone is None else tone
    pixels = _sample(region_pixels(image, box, cam, rules.cam_level), rules.max_pixels)
    lab = srgb_to_lab(pixels) if pixels.shape[0] else None
    labels = classify(lab, rules) if lab is not None else None
    shares, swatches = _shares(pixels, labels) if labels is not None else ({}, {})
    around = {}
    if box is not None:
        around, _ = colour_shares(
            _sample(surround_pixels(image, box, rules.surround), rules.max_pixels), rules
        )
    name, basis = None, ""
    if named and tone == "colour" and pixels.shape[0] >= rules.min_pixels:
        name = dominant(shares, rules.min_share, rules.margin)
        if name is not None and shares[name] - around.get(name, 0.0) < rules.surround_margin:
            name = None
        basis = "dominant" if name else ""
        if name is None and box is not None:
            name = accent(pixels, around, rules, classified=(lab, labels))
            basis = "accent" if name else ""
    return RegionColour(shares, swatches, int(pixels.shape[0]), tone, name, around, basis)


def accent(
    pixels: np.ndarray,
    around: Mapping[str, float],
    rules: ColourRules = RULES,
    classified: tuple[np.ndarray | None, np.ndarray | None] = (None, None),
) -> str | None:
    """The vivid chromatic colour concentrated in a box whose pixels are ``pixels`` (sRGB
    ``[n, 3]``), given the shares ``around`` it; ``None`` when none stands out (rules: module
    docstring). ``classified`` is the pixels' ``(lab, labels)`` when the caller has them."""
    pixels = np.asarray(pixels).reshape(-1, 3)
    if pixels.shape[0] < rules.min_pixels:
        return None
    lab, labels = classified
    if lab is None or labels is None:
        lab = srgb_to_lab(pixels)
        labels = classify(lab, rules)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    vivid: dict[str, tuple[float, float]] = {}  # name -> (share in the box, share around it)
    for name in NAMES:
        chosen = labels == PALETTE.index(name)
        if chosen.any() and float(chroma[chosen].mean()) >= rules.accent_chroma:
            vivid[name] = (float(chosen.mean()), float(around.get(name, 0.0)))
    if not vivid:
        return None
    best = max(vivid, key=lambda n: vivid[n][0] - vivid[n][1])
    share, outside = vivid[best]
    others = [s - o for n, (s, o) in vivid.items() if n != best]
    if (
        share - outside >= rules.accent_excess
        and share >= rules.accent_lift * outside
        and share - outside >= rules.accent_lead * max(others, default=0.0)
    ):
        return best
    return None


def surround_pixels(image: np.ndarray, box: Box, width: float = RULES.surround) -> np.ndarray:
    """The sRGB pixels ``[n, 3]`` of the band around ``box``: the box grown by ``width`` of
    its width and height on every side (clipped to the image), less the box itself."""
    image = np.asarray(image)
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * width, (y1 - y0) * width
    outer = _pixel_bounds((x0 - dx, y0 - dy, x1 + dx, y1 + dy), h, w)
    inner = _pixel_bounds(box, h, w)
    keep = np.zeros((h, w), dtype=bool)
    keep[outer[0] : outer[1], outer[2] : outer[3]] = True
    keep[inner[0] : inner[1], inner[2] : inner[3]] = False
    return image[keep].reshape(-1, 3)


def upsample(grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of a 2-D ``grid`` to ``shape`` (cell centres aligned, edges held)."""
    grid = np.asarray(grid, dtype=np.float64)
    gh, gw = grid.shape
    h, w = shape
    ys = np.clip((np.arange(h) + 0.5) * gh / h - 0.5, 0, gh - 1)
    xs = np.clip((np.arange(w) + 0.5) * gw / w - 0.5, 0, gw - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, gh - 1), np.minimum(x0 + 1, gw - 1)
    fy, fx = (ys - y0)[:, None], (xs - x0)[None, :]
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x1] * fx
    bottom = grid[y1][:, x0] * (1 - fx) + grid[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def _pixel_bounds(box: Box, h: int, w: int) -> tuple[int, int, int, int]:
    """``(row0, row1, col0, col1)``, ends exclusive, of the pixels a fractional box touches."""
    x0, y0, x1, y1 = (min(max(float(v), 0.0), 1.0) for v in box)
    return int(np.floor(y0 * h)), int(np.ceil(y1 * h)), int(np.floor(x0 * w)), int(np.ceil(x1 * w))


def _sample(pixels: np.ndarray, limit: int) -> np.ndarray:
    step = int(np.ceil(pixels.shape[0] / limit)) if pixels.shape[0] > limit else 1
    return pixels[::step]


_RGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])
_ANCHOR_LAB = srgb_to_lab(np.array([rgb for n in NAMES for rgb in ANCHORS[n]], dtype=np.uint8))
_ANCHOR_NAME = np.array([k for k, n in enumerate(NAMES) for _ in ANCHORS[n]])
_ANCHOR_SQ = (_ANCHOR_LAB**2).sum(axis=1)[None, :]
