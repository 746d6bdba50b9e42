"""What a file is, from its first bytes (never from its name): an image, a video, or neither.

No decoding and no third-party parser: the signatures of the containers and image formats.
"""

from __future__ import annotations

from typing import Literal

# Bytes of the file's start that sniff_kind looks at (MPEG-TS needs three 188-byte packets).
SNIFF_BYTES = 512

# ISO-BMFF brands that are still images (HEIF, AVIF), not movies.
_IMAGE_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis"})
# Leading QuickTime atoms of an old MOV without ftyp.
_QT_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"pnot"})
_ASF_GUID = bytes.fromhex("3026b2758e66cf11a6d900aa0062ce6c")


def sniff_kind(head: bytes) -> Literal["image", "video"] | None:
    """Whether the file is an image or a video (None: neither), from its first bytes
    (:data:`SNIFF_BYTES` suffice).

    Videos: ISO-BMFF ``ftyp`` (MP4, MOV; HEIF/AVIF brands are images), EBML (WebM, MKV),
    ``RIFF....AVI ``, and the containers probe_video names as unsupported (MPEG-TS, MPEG-PS,
    Ogg, FLV, ASF) so that their refusal says what they are. Images: JPEG, PNG, GIF, BMP, TIFF,
    WebP. The name of the file is never consulted."""
    container = sniff_container(head)
    if container is None:
        return None
    return "image" if container.startswith("image/") else "video"


def sniff_container(head: bytes) -> str | None:
    """Our container name ("mp4", "webm", ..., "mpegts"), "image/<kind>", or None."""
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _IMAGE_BRANDS:
            return "image/heif"
        return "mov" if brand == b"qt  " else "mp4"
    if head[4:8] in _QT_ATOMS:
        return "mov"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm" if b"webm" in head[:64] else "mkv"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:2] == b"BM" and head[6:10] == b"\x00\x00\x00\x00":
        return "image/bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if len(head) > 376 and head[0] == head[188] == head[376] == 0x47:
        return "mpegts"
    if head[:4] == b"\x00\x00\x01\xba":
        return "mpeg"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:3] == b"FLV":
        return "flv"
    if head[:16] == _ASF_GUID:
        return "asf"
    return None
