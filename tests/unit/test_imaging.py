from __future__ import annotations

import io
import struct
import zlib
from dataclasses import replace

import numpy as np
import pytest
from glassbox.config import Settings
from glassbox.media.imaging import (
    ImageInfo,
    InvalidMedia,
    decode_rgb,
    inspect_upload,
    model_input,
    read_upload,
    thumbnail_jpeg,
    too_large,
)
from PIL import Image

SETTINGS = Settings()


def photo_bytes(width: int = 320, height: int = 240, fmt: str = "JPEG", **save) -> bytes:
    """A noisy RGB image, so that JPEG scan data is spread over the whole file."""
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format=fmt, **save)
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose IHDR claims ``width``x``height`` 1-bit greyscale pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def rejection(data: bytes, settings: Settings = SETTINGS) -> InvalidMedia:
    with pytest.raises(InvalidMedia) as caught:
        inspect_upload(data, settings)
    return caught.value


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_each_allowed_format_is_accepted_and_described(fmt: str) -> None:
    info = inspect_upload(photo_bytes(64, 48, fmt), SETTINGS)
    assert info == ImageInfo(64, 48, fmt, Image.MIME[fmt])


def test_empty_file_is_rejected_with_400() -> None:
    err = rejection(b"")
    assert (err.code, err.status) == ("empty_file", 400)
    assert err.detail.endswith(".")


def test_file_over_the_byte_limit_is_rejected_with_413_before_parsing() -> None:
    err = rejection(b"not even an image" * 10, replace(SETTINGS, max_upload_bytes=100))
    assert (err.code, err.status) == ("too_large", 413)


def test_text_file_posing_as_jpeg_is_not_an_image() -> None:
    err = rejection(b"Hello! I am a text file called holiday.jpg\n" * 20)
    assert (err.code, err.status) == ("not_an_image", 415)


def test_image_in_a_format_outside_the_allowed_list_is_unsupported() -> None:
    err = rejection(photo_bytes(16, 16, "PPM"))
    assert (err.code, err.status) == ("unsupported_type", 415)


def test_truncated_jpeg_is_rejected() -> None:
    whole = photo_bytes()
    err = rejection(whole[: len(whole) // 2])
    assert (err.code, err.status) == ("truncated", 400)


def test_truncated_png_is_rejected() -> None:
    whole = photo_bytes(fmt="PNG")
    err = rejection(whole[: len(whole) // 2])
    assert err.code in {"truncated", "corrupt"}
    assert err.status == 400


def test_decompression_bomb_beyond_pillows_own_limit_is_rejected() -> None:
    bomb = png_declaring(20_000, 20_000)
    assert len(bomb) < 200
    err = rejection(bomb)
    assert (err.code, err.status) == ("decompression_bomb", 413)


def test_pixel_limit_from_settings_applies_before_decoding() -> None:
    # 3000 x 3000 = 9 Mpx is under Pillow's warning level, so only our own check can stop it;
    # the IDAT is far too short, so reaching the decoder would report "truncated" instead.
    err = rejection(png_declaring(3000, 3000), replace(SETTINGS, max_image_pixels=1_000_000))
    assert (err.code, err.status) == ("decompression_bomb", 413)


def test_image_with_a_side_over_the_limit_is_rejected() -> None:
    err = rejection(photo_bytes(300, 20, "PNG"), replace(SETTINGS, max_image_side=256))
    assert (err.code, err.status) == ("dimensions_too_large", 413)
    assert "300×20" in err.detail


def test_model_input_keeps_the_whole_image_without_cropping() -> None:
    # left quarter red, the rest blue, in a wide 400x100 image
    pixels = np.zeros((100, 400, 3), dtype=np.uint8)
    pixels[:, :100] = (255, 0, 0)
    pixels[:, 100:] = (0, 0, 255)
    x = model_input(Image.fromarray(pixels), 32)
    assert x.shape == (32, 32, 3) and x.dtype == np.uint8
    red_columns = (x[:, :, 0] > 128).all(axis=0)
    assert red_columns[:7].all() and not red_columns[9:].any()  # 1/4 of 32 = 8 columns
    assert (x[:, -1] == (0, 0, 255)).all()  # the right edge survives too


def test_model_input_does_not_mutate_the_image() -> None:
    img = Image.fromarray(np.full((10, 20, 3), 7, dtype=np.uint8))
    model_input(img, 8)
    assert img.size == (20, 10)


def test_decode_applies_exif_orientation() -> None:
    pixels = np.zeros((60, 120, 3), dtype=np.uint8)
    pixels[:, :60] = 255  # left half white
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", exif=exif, quality=95)
    upright = decode_rgb(out.getvalue())
    assert upright.mode == "RGB"
    assert upright.size == (60, 120)  # stored 120x60, displayed 60x120
    top, bottom = np.asarray(upright)[:30].mean(), np.asarray(upright)[-30:].mean()
    assert top > 200 and bottom < 50  # the white left half is now on top


def test_decode_puts_transparency_on_white() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(out, format="PNG")
    assert (np.asarray(decode_rgb(out.getvalue())) == 255).all()


def test_thumbnail_is_a_jpeg_within_the_size_and_keeps_aspect() -> None:
    img = Image.fromarray(np.zeros((300, 1200, 3), dtype=np.uint8))
    thumb = Image.open(io.BytesIO(thumbnail_jpeg(img, max_side=256)))
    assert thumb.format == "JPEG"
    assert thumb.size == (256, 64)


def oriented_jpeg(width: int, height: int, orientation: int) -> bytes:
    """A ``width``x``height`` JPEG as stored, with EXIF ``orientation``; its left half white."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, : width // 2] = 255
    exif = Image.Exif()
    exif[0x0112] = orientation
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", exif=exif, quality=95)
    return out.getvalue()


@pytest.mark.parametrize("orientation", [5, 6, 7, 8])
def test_a_photo_turned_by_exif_reports_its_displayed_size(orientation: int) -> None:
    data = oriented_jpeg(120, 60, orientation)
    assert Image.open(io.BytesIO(data)).size == (120, 60)  # stored sideways
    info = inspect_upload(data, SETTINGS)
    assert (info.width, info.height) == (60, 120)
    assert (info.width, info.height) == decode_rgb(data).size  # the same as what is analysed


@pytest.mark.parametrize("orientation", [1, 2, 3, 4])
def test_an_exif_orientation_without_a_quarter_turn_keeps_the_size(orientation: int) -> None:
    info = inspect_upload(oriented_jpeg(120, 60, orientation), SETTINGS)
    assert (info.width, info.height) == (120, 60)


class Unsized(io.BytesIO):
    """A stream whose total size the reader is not told."""


def test_read_upload_returns_a_file_within_the_limit_whole() -> None:
    data = b"x" * 100
    stream = io.BytesIO(data)
    stream.read(10)  # read_upload starts from the beginning
    assert read_upload(stream, replace(SETTINGS, max_upload_bytes=100), size=100) == data


def test_an_over_size_upload_is_refused_with_its_real_size() -> None:
    limit = 25 * 1024 * 1024
    size = 26 * 1024 * 1024
    stream = io.BytesIO(b"\0" * (limit + 1))  # what the reader may read: no more than this
    with pytest.raises(InvalidMedia) as caught:
        read_upload(stream, replace(SETTINGS, max_upload_bytes=limit), size=size)
    err = caught.value
    assert (err.code, err.status) == ("too_large", 413)
    assert err.detail == "The file is 26.0 MB; the limit is 25.0 MB."


def test_an_over_size_upload_of_unknown_size_is_said_to_be_larger_than_the_limit() -> None:
    limit = 25 * 1024 * 1024
    stream = Unsized(b"\0" * (26 * 1024 * 1024))
    with pytest.raises(InvalidMedia) as caught:
        read_upload(stream, replace(SETTINGS, max_upload_bytes=limit))
    assert caught.value.code == "too_large"
    assert caught.value.detail == "The file is larger than the limit of 25.0 MB."
    assert stream.tell() == limit + 1  # no further than one byte past the limit


def test_a_file_just_over_the_limit_is_named_in_bytes() -> None:
    err = too_large(26_214_400, 26_214_500)
    assert err.detail == "The file is 26,214,500 bytes; the limit is 26,214,400 bytes."
    assert rejection(b"y" * 150, replace(SETTINGS, max_upload_bytes=100)).detail == (
        "The file is 150 bytes; the limit is 100 bytes."
    )
