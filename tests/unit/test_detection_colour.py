"""Colour names of regions in CIELAB: the conversion, the palette, the achromatic rule, the
dominant colour, accents, greyscale and sepia images, CAM masks, and dog.jpg's truck and
bicycle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from glassbox.detection import colour
from glassbox.detection.colour import (
    PALETTE,
    ColourRules,
    classify,
    colour_shares,
    dominant,
    image_tone,
    region_colour,
    region_pixels,
    srgb_to_lab,
    surround_pixels,
    upsample,
)

DOG_JPG = Path("/usr/share/darknet/data/dog.jpg")
SEPIA = np.array([[0.393, 0.349, 0.272], [0.769, 0.686, 0.534], [0.189, 0.168, 0.131]])


def names_of(rgbs):
    return [PALETTE[k] for k in classify(srgb_to_lab(np.array(rgbs, dtype=np.uint8)))]


def textured(h, w, seed=0):
    """A grey, textured image (a road): L* between about 40 and 65, no chroma."""
    rng = np.random.default_rng(seed)
    v = rng.integers(95, 160, size=(h, w), dtype=np.uint8)
    return np.repeat(v[:, :, None], 3, axis=2)


@pytest.fixture(scope="module")
def dog_jpg():
    if not DOG_JPG.exists():
        pytest.fail(f"{DOG_JPG} is missing: run infra/bin/setup (darknet)", pytrace=False)
    from PIL import Image

    return np.asarray(Image.open(DOG_JPG).convert("RGB"))


def test_srgb_to_lab_matches_the_reference_values():
    lab = srgb_to_lab(
        np.array([[255, 255, 255], [255, 0, 0], [0, 0, 0], [128, 128, 128]], np.uint8)
    )
    np.testing.assert_allclose(lab[0], [100, 0, 0], atol=0.01)
    np.testing.assert_allclose(lab[1], [53.24, 80.09, 67.20], atol=0.02)
    np.testing.assert_allclose(lab[2], [0, 0, 0], atol=0.01)
    np.testing.assert_allclose(lab[3], [53.59, 0, 0], atol=0.01)
    blue = srgb_to_lab(np.array([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(blue, [32.30, 79.19, -107.86], atol=0.02)
    floats = srgb_to_lab(np.array([[200, 100, 50]], np.uint8) / 255.0)
    np.testing.assert_allclose(floats, srgb_to_lab(np.array([[200, 100, 50]], np.uint8)))


def test_the_palette_names_common_colours():
    samples = {
        "red": [(220, 20, 60), (128, 0, 0), (255, 0, 0)],
        "orange": [(255, 165, 0), (255, 140, 0), (255, 127, 80)],
        "yellow": [(255, 215, 0), (255, 255, 0), (240, 230, 140), (157, 150, 72)],
        "green": [(0, 100, 0), (50, 205, 50), (113, 141, 68), (0, 255, 0)],
        "blue": [(0, 0, 128), (135, 206, 235), (0, 0, 255), (0, 128, 128)],
        "purple": [(128, 0, 128), (75, 0, 130), (238, 130, 238)],
        "pink": [(255, 105, 180), (255, 182, 193)],
        "brown": [(123, 63, 0), (160, 82, 45), (101, 67, 33), (112, 66, 20)],
    }
    for name, rgbs in samples.items():
        assert names_of(rgbs) == [name] * len(rgbs), name


def test_achromatic_pixels_are_black_grey_or_white_by_lightness():
    assert names_of([(0, 0, 0), (40, 40, 40), (30, 10, 12)]) == ["black"] * 3
    assert names_of([(70, 70, 70), (128, 128, 128), (163, 169, 179)]) == ["grey"] * 3
    assert names_of([(200, 200, 200), (255, 255, 255), (235, 233, 234)]) == ["white"] * 3
    # a tint too weak to name (chroma under 12) is grey, not blue; a near-black one is black
    assert names_of([(120, 125, 135), (5, 0, 20)]) == ["grey", "black"]
    strict = ColourRules(chroma_min=3.0)
    assert PALETTE[classify(srgb_to_lab(np.array([120, 125, 135], np.uint8)), strict)] == "blue"


def test_a_red_square_on_white():
    image = np.full((100, 100, 3), 255, np.uint8)
    image[30:70, 20:60] = (210, 25, 30)
    square = region_colour(image, (0.2, 0.3, 0.6, 0.7))
    assert square.name == "red" and square.share == 1.0 and square.text == "red 100%"
    assert square.swatch == (210, 25, 30) and square.pixels == 1600
    assert square.as_dict() == {
        "name": "red",
        "share": 1.0,
        "swatch": [210, 25, 30],
        "text": "red 100%",
        "tone": "colour",
        "basis": "dominant",
        "shares": {"red": 1.0},
    }
    whole = region_colour(image)
    assert whole.shares == {"white": 0.84, "red": 0.16}
    assert whole.name == "white"  # no box, no surround to compare with
    # a loose box, white around the square: white is the surround's colour, so not white;
    # the square's red, found only inside the box, is its accent
    loose = region_colour(image, (0.1, 0.2, 0.7, 0.8))
    assert loose.shares["white"] > 0.5 and loose.surround["white"] == 1.0
    assert (loose.name, loose.basis) == ("red", "accent")


def test_a_blue_car_shaped_blob_on_a_grey_road():
    image = textured(120, 200)
    image[50:85, 30:170] = (30, 70, 190)  # the body
    image[30:52, 65:135] = (35, 80, 200)  # the cabin
    image[40:50, 75:125] = (200, 220, 235)  # its windows
    for cx in (60, 140):  # black wheels
        yy, xx = np.ogrid[:120, :200]
        image[(yy - 88) ** 2 + (xx - cx) ** 2 <= 12**2] = (20, 20, 20)
    box = (0.14, 0.24, 0.86, 0.84)
    car = region_colour(image, box)
    assert car.tone == "colour"
    assert car.name == "blue" and 0.45 < car.share < 0.65
    assert car.shares["black"] > 0.05 and "grey" in car.shares
    r, g, b = car.swatch
    assert b > 150 and b > 2 * r and b > 2 * g
    assert car.surround.get("blue", 0.0) == 0.0
    assert car.text.startswith("blue ") and car.text.endswith("%")
    # a CAM over the image, hot on the body, narrows the region to it: bluer
    cam = np.zeros((7, 7))
    cam[3:5, 1:6] = 1.0
    masked = region_colour(image, box, cam=cam)
    assert masked.pixels < car.pixels and masked.share > car.share


def test_a_grey_image_gets_no_colour_words():
    image = textured(60, 80)
    assert image_tone(image) == "greyscale"
    grey = region_colour(image, (0.2, 0.2, 0.8, 0.8))
    assert set(grey.shares) <= {"black", "grey", "white"}
    assert grey.name is None and grey.text == ""
    # a single pure-grey image: grey everywhere, still no colour word for a greyscale image
    flat = np.full((40, 40, 3), 128, np.uint8)
    assert region_colour(flat).shares == {"grey": 1.0} and region_colour(flat).name is None


def test_a_sepia_toned_image_gets_no_colour_words(dog_jpg):
    grey = dog_jpg.astype(np.float64).mean(axis=2, keepdims=True).repeat(3, axis=2)
    sepia = np.clip(grey @ SEPIA, 0, 255).astype(np.uint8)
    assert image_tone(dog_jpg) == "colour"
    assert image_tone(grey.astype(np.uint8)) == "greyscale"
    assert image_tone(sepia) == "sepia"
    toned = region_colour(sepia, (0.61, 0.13, 0.90, 0.30))
    assert toned.tone == "sepia" and toned.name is None
    assert set(toned.shares) & {"brown", "yellow"}  # the pixels have a hue, but it is the tone's


def test_a_small_vivid_object_keeps_an_image_in_colour():
    image = np.full((100, 100, 3), 250, np.uint8)
    image[45:56, 45:56] = (220, 20, 20)  # 1.2% of the image
    assert image_tone(image) == "colour"
    assert region_colour(image, (0.45, 0.45, 0.56, 0.56)).name == "red"


def test_dominant_needs_a_clear_share_and_margin():
    assert dominant({"red": 0.62, "white": 0.3}) == "red"
    assert dominant({"red": 0.34, "white": 0.1}) is None  # under 35%
    assert dominant({"red": 0.45, "blue": 0.35}) is None  # 10 points ahead: not clear
    assert dominant({"red": 0.5, "blue": 0.35}) == "red"  # 15 points ahead
    assert dominant({"blue": 0.35}) == "blue"
    assert dominant({}) is None
    assert dominant({"red": 0.4, "blue": 0.3}, min_share=0.4, margin=0.1) == "red"


def test_colour_shares_sum_to_one_with_a_swatch_per_name():
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, size=(5000, 3), dtype=np.uint8)
    shares, swatches = colour_shares(pixels)
    assert sum(shares.values()) == pytest.approx(1.0)
    assert list(shares.values()) == sorted(shares.values(), reverse=True)
    assert set(swatches) == set(shares) and set(shares) <= set(PALETTE)
    assert colour_shares(np.zeros((0, 3), np.uint8)) == ({}, {})
    floats = colour_shares(np.array([[1.0, 0.0, 0.0]]))
    assert floats == ({"red": 1.0}, {"red": (255, 0, 0)})


def test_region_pixels_box_and_cam_mask():
    image = np.arange(10 * 20 * 3, dtype=np.uint8).reshape(10, 20, 3)
    assert region_pixels(image).shape == (200, 3)
    assert region_pixels(image, (0.0, 0.0, 0.5, 0.5)).shape == (50, 3)
    assert region_pixels(image, (0.5, 0.5, 0.5, 0.9)).shape == (0, 3)
    cam = np.zeros((7, 7))
    cam[:, :3] = 1.0  # the left of the image
    left = region_pixels(image, None, cam)
    assert 0 < left.shape[0] < 200
    assert region_pixels(image, None, np.zeros((7, 7))).shape == (0, 3)  # nothing positive
    assert region_pixels(image, None, np.full((7, 7), np.nan)).shape == (0, 3)
    ring = surround_pixels(image, (0.25, 0.2, 0.75, 0.8), 0.2)
    # grown by 0.1 across (columns 3-16) and 0.12 down (0.08-0.92: rows 0-9), less the box
    assert ring.shape[0] == (10 * 14) - (6 * 10)


def test_upsample_keeps_constants_and_corners():
    np.testing.assert_allclose(upsample(np.full((7, 7), 0.3), (50, 40)), 0.3)
    grid = np.arange(49, dtype=float).reshape(7, 7)
    up = upsample(grid, (70, 70))
    assert up.shape == (70, 70)
    assert up[0, 0] == grid[0, 0] and up[-1, -1] == grid[-1, -1]
    assert np.all(np.diff(up, axis=1) >= 0) and np.all(np.diff(up, axis=0) >= 0)


def test_large_regions_are_sampled(dog_jpg):
    rules = ColourRules(max_pixels=10_000)
    sampled = region_colour(dog_jpg, None, rules=rules)
    full = region_colour(dog_jpg, None, rules=ColourRules(max_pixels=10**6))
    assert sampled.pixels <= 10_000 < full.pixels == 768 * 576
    for name, share in full.shares.items():
        if share > 0.05:
            assert sampled.shares[name] == pytest.approx(share, abs=0.03)


def test_dog_jpg_the_truck_reads_white(dog_jpg):
    truck = region_colour(dog_jpg, (0.61, 0.13, 0.90, 0.30))
    assert truck.tone == "colour"
    assert truck.name == "white" and 0.45 < truck.share < 0.6
    assert min(truck.swatch) > 225
    assert truck.share - truck.surround["white"] > 0.25  # the truck's, not the street's


def test_dog_jpg_the_bicycle_is_red_by_its_accent_not_by_its_share(dog_jpg):
    """The photo shows a red bicycle, but its frame is thin tubes: most of its box is the grey
    road and porch floor, the yellow wall and the dog. No colour is dominant; red is the
    vivid colour found in the box and hardly around it, so it is the bicycle's accent."""
    box = (0.17, 0.22, 0.74, 0.73)
    bike = region_colour(dog_jpg, box)
    top = max(bike.shares, key=bike.shares.get)
    assert top == "grey" and abs(bike.shares["grey"] - bike.surround["grey"]) < 0.05
    red = bike.shares["red"]
    assert 0.005 < red < 0.05  # red is there, but about 2% of the box
    assert red > 5 * bike.surround.get("red", 0.0)  # and it is the bicycle's, not the street's
    r, g, b = bike.swatches["red"]
    assert r > 100 and r > 3 * g and r > 3 * b
    assert (bike.name, bike.basis) == ("red", "accent")
    assert bike.text.startswith("red accent 2% (") and "around the box" in bike.text
    assert bike.as_dict()["basis"] == "accent"


def test_an_accent_must_be_vivid_and_concentrated_in_the_box():
    """A thin vivid-red frame on a grey road is an accent; the same frame in dull brick-red, or
    with as much red around the box, or beside as much vivid blue, is not."""

    def scene(frame_rgb, around_rgb=None, second=None):
        image = textured(200, 200)
        box = (0.25, 0.25, 0.75, 0.75)
        image[60:64, 50:150] = frame_rgb  # a thin bar: 400 px of the box's 10 000
        image[100:104, 50:150] = frame_rgb
        if around_rgb is not None:  # the same colour in the band around the box
            image[30:38, 40:160] = around_rgb
        if second is not None:
            image[120:128, 50:150] = second
        return region_colour(image, box, tone="colour")

    vivid = scene((200, 25, 30))
    assert (vivid.name, vivid.basis) == ("red", "accent")
    assert scene((120, 80, 70)).name is None  # dull: mean chroma under 45
    assert scene((200, 25, 30), around_rgb=(200, 25, 30)).name is None  # the street's red too
    assert scene((200, 25, 30), second=(30, 60, 210)).name is None  # red and blue: no lead
    assert region_colour(textured(200, 200), (0.25, 0.25, 0.75, 0.75)).name is None


def test_named_false_keeps_the_shares_but_gives_no_colour_word(dog_jpg):
    truck = region_colour(dog_jpg, (0.61, 0.13, 0.90, 0.30), named=False)
    assert truck.name is None and truck.text == "" and truck.shares["white"] > 0.45


def test_colour_words_come_only_from_the_palette():
    assert set(colour.NAMES) | set(colour.ACHROMATIC) == set(PALETTE)
    assert len(PALETTE) == 11
    assert set(colour.ANCHORS) == set(colour.NAMES)
