"""Upload validation and image preprocessing (Pillow + numpy only).

``inspect_upload`` is the one gate every upload passes through. It checks, in this order,
so that nothing expensive happens before the cheap checks have passed:

1. byte size (empty, over ``max_upload_bytes``; :func:`read_upload` reads an upload only up to
   one byte past the limit, and names the file's real size when it is over);
2. the header, identified by Pillow without decoding pixels (not an image, unsupported type);
3. the declared pixel count (decompression bomb) and side lengths, still before decoding;
4. a full decode, which catches truncated or corrupt files.

``LOAD_TRUNCATED_IMAGES`` is never set: a truncated file is an error, not a grey stripe.
The width and height reported are those displayed: after the EXIF orientation, as
:func:`decode_rgb` applies it (a portrait photo stored sideways is reported as portrait).
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

import numpy as np
from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

if TYPE_CHECKING:
    from glassbox.config import Settings

ALLOWED_FORMATS: frozenset[str] = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"})

# EXIF orientations that turn the stored image by 90° (5 and 7 also mirror it).
_QUARTER_TURNS = frozenset({5, 6, 7, 8})

# Errors Pillow's parsers and decoders raise on malformed input.
_PARSE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    struct.error,
    zlib.error,
    IndexError,
    TypeError,
)


class InvalidMedia(Exception):
    """An upload that cannot be accepted.

    ``code`` is stable and machine-readable, ``detail`` one sentence for people, ``status`` the
    HTTP status the web layer should answer with:

    ======================  ======
    code                    status
    ======================  ======
    empty_file              400
    truncated, corrupt      400
    too_large               413
    decompression_bomb      413
    dimensions_too_large    413
    not_an_image            415
    unsupported_type        415
    ======================  ======
    """

    def __init__(self, code: str, detail: str, status: int = 400) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.status = status


@dataclass(frozen=True)
class ImageInfo:
    width: int  # as displayed, after the EXIF orientation
    height: int
    format: str  # Pillow's name: "JPEG", "PNG", ...
    mime: str


def read_upload(stream: BinaryIO, settings: Settings, size: int | None = None) -> bytes:
    """The bytes of an uploaded file, read from its start and never more than one byte past
    ``max_upload_bytes``. Over the limit: :class:`InvalidMedia` ``too_large`` naming ``size``
    (the file's real size, e.g. Django's ``UploadedFile.size``) when the caller knows it, and
    "larger than the limit" when it does not (the bytes read stop at the limit)."""
    limit = settings.max_upload_bytes
    if size is not None and size > limit:
        raise too_large(limit, size)
    if hasattr(stream, "seek"):
        stream.seek(0)
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise too_large(limit, size if size is not None and size > limit else None)
    return data


def too_large(limit: int, size: int | None = None) -> InvalidMedia:
    """The refusal of a file over ``limit`` bytes; ``size`` its real size, None if unknown."""
    if size is None:
        detail = f"The file is larger than the limit of {_mb(limit)}."
    else:
        shown, limit_shown = _mb(size), _mb(limit)
        if shown == limit_shown:  # just over: 25.0 MB against 25.0 MB would say nothing
            shown, limit_shown = f"{size:,} bytes", f"{limit:,} bytes"
        detail = f"The file is {shown}; the limit is {limit_shown}."
    return InvalidMedia("too_large", detail, 413)


def inspect_upload(data: bytes, settings: Settings) -> ImageInfo:
    """Validate an upload and describe it; raise :class:`InvalidMedia` if it is unacceptable.

    ``data`` is the whole file (an upload read with :func:`read_upload`, which has already
    refused an over-size one with its real size)."""
    if not data:
        raise InvalidMedia("empty_file", "The uploaded file is empty.", 400)
    if len(data) > settings.max_upload_bytes:
        raise too_large(settings.max_upload_bytes, len(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))  # lazy: reads the header only
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _bomb(settings) from exc
        except _PARSE_ERRORS as exc:
            raise InvalidMedia(
                "not_an_image", "The file is not an image we can read.", 415
            ) from exc
        with img:
            fmt = img.format or ""
            if fmt not in ALLOWED_FORMATS:
                allowed = ", ".join(sorted(ALLOWED_FORMATS))
                raise InvalidMedia(
                    "unsupported_type",
                    f"{fmt or 'This'} images are not supported; use {allowed}.",
                    415,
                )
            width, height = img.size
            if width * height > settings.max_image_pixels:
                raise _bomb(settings)
            if width <= 0 or height <= 0:
                raise InvalidMedia("corrupt", "The image declares no pixels.", 400)
            if max(width, height) > settings.max_image_side:
                raise InvalidMedia(
                    "dimensions_too_large",
                    f"The image is {width}×{height} pixels; no side may exceed "
                    f"{settings.max_image_side}.",
                    413,
                )
            try:
                img.load()
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise _bomb(settings) from exc
            except _PARSE_ERRORS as exc:
                if isinstance(exc, EOFError) or "truncated" in str(exc).lower():
                    raise InvalidMedia(
                        "truncated", "The image file is truncated; upload it again.", 400
                    ) from exc
                raise InvalidMedia("corrupt", "The image data is corrupt.", 400) from exc
            # After the decode: a PNG's EXIF may follow its pixels, and reading it would
            # decode them before the checks above. The checks are alike for either order.
            if _orientation(img) in _QUARTER_TURNS:
                width, height = height, width
    return ImageInfo(width, height, fmt, Image.MIME.get(fmt, "application/octet-stream"))


def _orientation(img: Image.Image) -> int:
    """The EXIF orientation (1 when absent or unreadable), the tag ``exif_transpose`` reads."""
    try:
        return int(img.getexif().get(ExifTags.Base.Orientation, 1))
    except _PARSE_ERRORS:
        return 1


def decode_rgb(data: bytes) -> Image.Image:
    """Decode to an upright RGB image: EXIF orientation applied, transparency on white."""
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        upright = ImageOps.exif_transpose(img)
    if upright.mode in ("RGBA", "LA", "PA") or (
        upright.mode == "P" and "transparency" in upright.info
    ):
        rgba = upright.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return upright.convert("RGB")


def model_input(img: Image.Image, size: int) -> np.ndarray:
    """The WHOLE image resized to ``size``×``size`` (no crop), uint8 HWC RGB.

    Aspect ratio is not kept: every pixel of the original maps to the model input, so a CAM
    cell maps back onto the same fraction of the original image. Pillow's bilinear filter
    widens its support when shrinking, i.e. it antialiases.
    """
    resized = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    return np.ascontiguousarray(np.asarray(resized, dtype=np.uint8))


def thumbnail_jpeg(img: Image.Image, max_side: int = 512, quality: int = 85) -> bytes:
    """A JPEG no larger than ``max_side`` on either side, aspect ratio kept."""
    thumb = img.convert("RGB")
    thumb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    thumb.save(out, format="JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _bomb(settings: Settings) -> InvalidMedia:
    return InvalidMedia(
        "decompression_bomb",
        f"The image declares more than {settings.max_image_pixels:,} pixels.",
        413,
    )


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"
