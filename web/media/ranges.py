"""HTTP range requests (RFC 9110, section 14) for the files a player seeks in.

One ``bytes`` range is served as 206 Partial Content; a range the file cannot satisfy, or a
malformed ``bytes`` range, is 416 with ``Content-Range: bytes */<size>``. A header in another
unit, several ranges at once, or an ``If-Range`` that no longer matches the file is ignored,
as the RFC allows: the whole file is sent (200), and the player asks again for what it needs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator

from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse

CHUNK_BYTES = 64 * 1024
_SPEC = re.compile(r"^(\d{0,18})-(\d{0,18})$")


class Unsatisfiable(ValueError):
    """The ``bytes`` range is malformed or lies outside the file."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(first, last)`` byte positions ``header`` asks for in a file of ``size``
    bytes; ``None`` to send the whole file. Raises ``Unsatisfiable``.

    ``bytes=0-99`` is the first hundred bytes, ``bytes=100-`` all from the 101st on,
    ``bytes=-100`` the last hundred; a last position past the end is clipped to it.
    """
    if header is None or not header.strip():
        return None
    unit, sep, specs = header.strip().partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None  # another unit: ignored
    parts = [p.strip() for p in specs.split(",")]
    if len(parts) > 1:
        if any(not _SPEC.match(p) for p in parts):
            raise Unsatisfiable(f"malformed range {header[:60]!r}")
        return None  # several ranges: the whole file (no multipart/byteranges)
    match = _SPEC.match(parts[0])
    if match is None or match.group(0) == "-":
        raise Unsatisfiable(f"malformed range {header[:60]!r}")
    first, last = match.group(1), match.group(2)
    if not first:  # suffix: the last N bytes
        length = int(last)
        if length == 0 or size == 0:
            raise Unsatisfiable("an empty suffix range")
        return max(0, size - length), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        raise Unsatisfiable(f"range {parts[0]!r} ends before it starts")
    if start >= size:
        raise Unsatisfiable(f"range {parts[0]!r} starts past the end ({size} bytes)")
    return start, min(end, size - 1)


def etag_of(name: str, size: int) -> str:
    """A strong validator: stored files are never rewritten (each has a fresh random name)."""
    digest = hashlib.sha256(name.encode()).hexdigest()[:20]
    return f'"{digest}-{size:x}"'


def ranged_file_response(request: HttpRequest, field, content_type: str) -> HttpResponse:
    """``field``'s file with range support: 200 (all), 206 (one range) or 416."""
    if not field or not field.name:
        raise Http404("No such file.")
    try:
        size = field.storage.size(field.name)
        handle = field.storage.open(field.name, "rb")
    except FileNotFoundError as exc:
        raise Http404("No such file.") from exc
    etag = etag_of(field.name, size)
    header = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        header = None  # the file changed since the client's first part (or a date we never sent)
    try:
        wanted = parse_range(header, size)
    except Unsatisfiable:
        handle.close()
        response = HttpResponse(status=416, content_type="text/plain; charset=utf-8")
        response.content = b"Range not satisfiable.\n"
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    if wanted is None:
        response = FileResponse(handle, content_type=content_type)
        response["Content-Length"] = str(size)
    else:
        first, last = wanted
        handle.seek(first)
        response = StreamingHttpResponse(
            _chunks(handle, last - first + 1), status=206, content_type=content_type
        )
        response["Content-Length"] = str(last - first + 1)
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    return response


def _chunks(handle, length: int) -> Iterator[bytes]:
    try:
        left = length
        while left > 0:
            block = handle.read(min(CHUNK_BYTES, left))
            if not block:
                break
            left -= len(block)
            yield block
    finally:
        handle.close()
