"""Decoding a video's frames for the worker (PyAV): every frame or a sample, the small
frames of the shot detector, and chosen frames at full quality.

Every time is a presentation timestamp in seconds from the video stream's start (as
:mod:`glassbox.media.video` counts it), so the same frame has the same time whichever
function returns it. A file whose decoding breaks (corrupt data, data that ends long before
the duration it declares) raises :class:`~glassbox.media.video.VideoDecodeError` with how far
it got, so that the caller can fail the item with a reason. Frames are RGB ``uint8``
``[H, W, 3]``; :func:`iter_frames` and :func:`frames_at` turn them upright (rotation).
"""

from __future__ import annotations

import heapq
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import av
import av.error
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from glassbox.media.video_container import (
    VideoDecodeError,
    declared_duration_s,
    ends_early,
    open_video,
    rotation_of,
    seconds,
    start_pts,
    upright,
)

if TYPE_CHECKING:
    from av.container import InputContainer
    from av.video.stream import VideoStream

# TransNetV2's input: every frame at 48x27 RGB. Its authors resize with ffmpeg's default
# scaler (bicubic); swscale's bicubic, through one reused reformatter, is what we use.
SHOT_FRAME_SIZE = (48, 27)
# frames_at: a target this far past the decoder's position is reached by seeking.
_SEEK_AHEAD_S = 2.0
# frames_at: a frame time within this of a target is that target (times are PTS-exact).
_SAME_TIME_S = 1e-3

# A decode that fails raises one of these (PyAV wraps FFmpeg's errors; a broken stream can
# also surface as a ValueError from the frame conversion).
DECODE_ERRORS = (av.error.FFmpegError, ValueError)


def iter_frames(
    path: str | os.PathLike[str],
    every_n: int = 1,
    *,
    fps: float | None = None,
    size: tuple[int, int] | None = None,
) -> Iterator[tuple[int, float, np.ndarray]]:
    """Yield ``(frame_index, time_s, rgb)`` in presentation order.

    ``every_n``: every n-th decoded frame; ``fps``: instead, the first frame in each
    1/``fps`` interval of presentation time (variable-rate files are sampled by time, not by
    count). ``size``: ``(width, height)`` of the upright output (None: the frame's own).
    ``frame_index`` counts every decoded frame from 0, whether yielded or not."""
    if every_n < 1:
        raise ValueError("every_n must be at least 1")
    if fps is not None and fps <= 0:
        raise ValueError("fps must be positive")
    step = 1.0 / fps if fps else None
    next_t = 0.0
    reformatter = VideoReformatter()
    rotation: int | None = None
    for index, time_s, frame in decoded_frames(path):
        if step is not None:
            if time_s + _SAME_TIME_S < next_t:
                continue
            while next_t <= time_s + _SAME_TIME_S:
                next_t += step
        elif index % every_n:
            continue
        if rotation is None:
            rotation = rotation_of(frame)
        yield index, time_s, to_rgb(frame, reformatter, rotation, size)


def small_frames_for_shots(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """Every frame at 48x27 RGB, the shot detector's input: ``(times [N] float64,
    frames [N, 27, 48, 3] uint8)``. Frames are not turned upright (a cut is a cut either
    way, and the shape stays 27x48)."""
    width, height = SHOT_FRAME_SIZE
    reformatter = VideoReformatter()
    times: list[float] = []
    chunks: list[np.ndarray] = []
    block = np.empty((0, height, width, 3), np.uint8)
    filled = 0
    for _index, time_s, frame in decoded_frames(path):
        if filled == len(block):
            if filled:
                chunks.append(block)
            block = np.empty((1024, height, width, 3), np.uint8)
            filled = 0
        small = reformatter.reformat(
            frame, width, height, "rgb24", interpolation=Interpolation.BICUBIC
        )
        block[filled] = small.to_ndarray()
        filled += 1
        times.append(time_s)
    chunks.append(block[:filled])
    return np.asarray(times, dtype=np.float64), np.concatenate(chunks)


def frames_at(
    path: str | os.PathLike[str],
    points: Sequence[float] | Sequence[int],
    max_side: int | None = None,
    *,
    by: str = "time",
) -> list[tuple[float, np.ndarray]]:
    """The frames shown at the given times (``by="time"``: seconds, by seeking to the key
    frame before each and decoding forward) or with the given indices (``by="index"``: the
    numbering of :func:`iter_frames`, by decoding from the start to the last one asked for).

    Returns ``(time_s, rgb)`` for each point, in the order given; upright, shrunk so that no
    side exceeds ``max_side`` (None: full size). A time before the first frame gives the
    first frame, one after the last the last frame; an index past the end is an IndexError."""
    if by not in ("time", "index"):
        raise ValueError("by must be 'time' or 'index'")
    if not points:
        return []
    reformatter = VideoReformatter()

    def convert(frame: av.VideoFrame) -> np.ndarray:  # at once: no full frame is kept
        return to_rgb(frame, reformatter, rotation_of(frame), None, max_side=max_side)

    if by == "index":
        found = _frames_by_index(path, [int(p) for p in points], convert)
    else:
        found = _frames_by_time(path, [float(p) for p in points], convert)
    return [found[point] for point in points]


# --- shared decoding ----------------------------------------------------------------------


def decoded_frames(
    path: str | os.PathLike[str], *, check_end: bool = True
) -> Iterator[tuple[int, float, av.VideoFrame]]:
    """Yield ``(index, time_s, frame)`` for every decoded frame, with threaded decoding.

    A decoder error, or (``check_end``) frames that end short of the video's declared
    duration (:func:`~glassbox.media.video_container.ends_early`), raise
    :class:`VideoDecodeError` naming how far decoding got."""
    with open_video(path) as (container, stream):
        stream.codec_context.thread_type = "AUTO"
        declared = declared_duration_s(container, stream)
        index, last_t = 0, None
        frames = timed_frames(container, stream)
        while True:
            try:
                time_s, frame = next(frames)
            except StopIteration:
                break
            except DECODE_ERRORS as exc:
                raise VideoDecodeError(decode_reason(exc), index, last_t) from exc
            yield index, time_s, frame
            index += 1
            last_t = time_s
        if index == 0:
            raise VideoDecodeError("no frame could be decoded", 0, None)
        if (
            check_end
            and declared
            and last_t is not None
            and ends_early(last_t, declared, container, stream)
        ):
            raise VideoDecodeError(
                f"the frames end at {last_t:.2f} s of the {declared:.2f} s the video declares",
                index,
                last_t,
            )


class PresentationClock:
    """Presentation times for frames in the order the decoder gives them (display order).

    Each frame's timestamp (PTS, else the packet's DTS) joins a small heap, and a frame is
    released with the smallest timestamp held once ``depth`` later frames have been seen:
    an AVI of packed MPEG-4 B-frames (Megamind.avi) stamps frames 3, 5, 4, 6, 8, 7 in display
    order, and the heap gives 3, 4, 5, 6, 7, 8. Elsewhere the timestamps pass unchanged. Only
    a frame without a usable timestamp (none at all, or not after the previous one) is
    placed one average frame after the previous frame."""

    def __init__(self, stream: VideoStream, depth: int = 4) -> None:
        self.stream, self.depth = stream, depth
        self.start = start_pts(stream)
        rate = stream.average_rate or stream.guessed_rate
        self.step = 1.0 / float(rate) if rate else 0.04
        self._heap: list[int] = []
        self._pending: deque[av.VideoFrame] = deque()
        self.last: float | None = None

    def push(self, frame: av.VideoFrame) -> list[tuple[float, av.VideoFrame]]:
        stamp = frame.pts if frame.pts is not None else frame.dts
        if stamp is not None:
            heapq.heappush(self._heap, stamp)
        self._pending.append(frame)
        out = []
        while len(self._pending) > self.depth:
            out.append(self._release())
        return out

    def flush(self) -> list[tuple[float, av.VideoFrame]]:
        out = []
        while self._pending:
            out.append(self._release())
        return out

    def _release(self) -> tuple[float, av.VideoFrame]:
        frame = self._pending.popleft()
        time_s = seconds(heapq.heappop(self._heap), self.stream, self.start) if self._heap else None
        if time_s is None or (self.last is not None and time_s <= self.last):
            time_s = self.last + self.step if self.last is not None else max(time_s or 0.0, 0.0)
        self.last = time_s
        return time_s, frame


def timed_frames(
    container: InputContainer, stream: VideoStream
) -> Iterator[tuple[float, av.VideoFrame]]:
    """``(time_s, frame)`` for the frames decoded from the container's current position; a
    decoder error is raised after the frames decoded before it."""
    clock = PresentationClock(stream)
    frames = container.decode(stream)
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            break
        except DECODE_ERRORS:
            yield from clock.flush()
            raise
        yield from clock.push(frame)
    yield from clock.flush()


def to_rgb(
    frame: av.VideoFrame,
    reformatter: VideoReformatter,
    rotation: int,
    size: tuple[int, int] | None,
    *,
    max_side: int | None = None,
) -> np.ndarray:
    """The frame as upright RGB, at ``size`` (upright width, height) or within ``max_side``."""
    turned = rotation in (90, 270)
    stored_w, stored_h = frame.width, frame.height
    up_w, up_h = (stored_h, stored_w) if turned else (stored_w, stored_h)
    if size is not None:
        up_w, up_h = int(size[0]), int(size[1])
    elif max_side is not None and max(up_w, up_h) > max_side:
        scale = max_side / max(up_w, up_h)
        up_w, up_h = max(1, round(up_w * scale)), max(1, round(up_h * scale))
    out_w, out_h = (up_h, up_w) if turned else (up_w, up_h)
    if (out_w, out_h) == (stored_w, stored_h):
        rgb = reformatter.reformat(frame, format="rgb24").to_ndarray()
    else:
        rgb = reformatter.reformat(
            frame, out_w, out_h, "rgb24", interpolation=Interpolation.AREA
        ).to_ndarray()
    return upright(rgb, rotation)


# --- frames_at ------------------------------------------------------------------------------


def _frames_by_index(
    path: str | os.PathLike[str], indices: list[int], convert: Callable
) -> dict[int, tuple[float, np.ndarray]]:
    if min(indices) < 0:
        raise IndexError("frame indices start at 0")
    wanted, last = set(indices), max(indices)
    found: dict[int, tuple[float, np.ndarray]] = {}
    for index, time_s, frame in decoded_frames(path, check_end=False):
        if index in wanted:
            found[index] = (time_s, convert(frame))
        if index >= last:
            return found
    raise IndexError(f"the video has fewer than {last + 1} frames")


class _Cursor:
    """A decoder position that moves forward, and seeks when a target is behind it or far
    ahead; it keeps the last frame shown and the one decoded beyond it."""

    def __init__(self, container: InputContainer, stream: VideoStream) -> None:
        self.container, self.stream = container, stream
        self.start = start_pts(stream)
        self.count = 0
        self._restart(None)

    def _restart(self, target_s: float | None) -> None:
        if target_s is not None:
            offset = self.start + int(target_s / float(self.stream.time_base or 1))
            try:
                self.container.seek(max(offset, self.start), stream=self.stream, backward=True)
            except av.error.FFmpegError:
                self.container.seek(0)  # no index to seek by: decode from the start
        self.frames = timed_frames(self.container, self.stream)
        self.shown: tuple[float, av.VideoFrame] | None = None
        self.ahead: tuple[float, av.VideoFrame] | None = None

    def _next(self) -> tuple[float, av.VideoFrame] | None:
        if self.ahead is not None:
            item, self.ahead = self.ahead, None
            return item
        try:
            item = next(self.frames)
        except StopIteration:
            return None
        except DECODE_ERRORS as exc:
            last = self.shown[0] if self.shown else None
            raise VideoDecodeError(decode_reason(exc), self.count, last) from exc
        self.count += 1
        return item

    def frame_at(self, target_s: float) -> tuple[float, av.VideoFrame]:
        here = self.shown[0] if self.shown else None
        if here is None or target_s < here - _SAME_TIME_S or target_s > here + _SEEK_AHEAD_S:
            if here is not None or target_s > _SEEK_AHEAD_S:
                self._restart(max(target_s, 0.0))
        while True:
            item = self._next()
            if item is None:  # past the end: the last frame shown
                if self.shown is None:
                    raise VideoDecodeError("no frame could be decoded", self.count, None)
                return self.shown
            if item[0] > target_s + _SAME_TIME_S:
                self.ahead = item
                return self.shown if self.shown is not None else item
            self.shown = item


def _frames_by_time(
    path: str | os.PathLike[str], times: list[float], convert: Callable
) -> dict[float, tuple[float, np.ndarray]]:
    found: dict[float, tuple[float, np.ndarray]] = {}
    with open_video(path) as (container, stream):
        stream.codec_context.thread_type = "AUTO"
        cursor = _Cursor(container, stream)
        for target in sorted(set(times)):
            time_s, frame = cursor.frame_at(target)
            found[target] = (time_s, convert(frame))
    return found


def decode_reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
