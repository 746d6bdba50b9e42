"""A video's analysis, in checkpointed stages (the worker's side; the maths is in
``glassbox.video`` and the decoding in ``glassbox.media.video*``).

1. **shots**: every frame at 48x27 through the ``shot_boundaries`` model (TransNetV2) gives a
   cut probability per frame; cuts make shots, and a long shot is split into windows of
   ``video_keyframe_interval_s``. Each window gets a keyframe: the sharpest, non-blank frame
   near its middle. The windows are stored as ``Shot`` rows, in one transaction, with their
   keyframe JPEGs; the first window of each shot carries its cut (probability and curve).
2. **keyframes**: each window's keyframe goes through the same analysis as an image
   (``glassbox.analysis.pipeline.analyze``: concepts and CAMs, read text, the nudity
   detector, the caption, the semantic vector), stored on its row as it finishes. A row with
   ``analyzed_at`` set is a checkpoint: after a lost worker the task goes on from the first
   row not analysed, so a long video never starts over, and no row is written twice.
3. **the video**: its tags aggregate the windows in time (``glassbox.video.timeline``: each
   tag's instances, a duration-weighted confidence, a justification naming the ranges), its
   caption strings the windows' captions with their times, its vector is the duration-
   weighted mean of theirs; and a browser-playable proxy is made when the original is not.

Progress is kept on the item (``progress``: stage, done, total) for the page to show.
"""

from __future__ import annotations

import io
import logging
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from glassbox.analysis import pipeline
from glassbox.config import Settings
from glassbox.media import video_frames, video_proxy
from glassbox.media.video import VideoDecodeError
from glassbox.video import keyframes as kf
from glassbox.video import shots as shot_maths
from glassbox.video import timeline
from moderation import active as moderation_policies
from moderation import storing as moderation_storing
from PIL import Image

from .actions import persistence
from .models import MediaItem, SemanticProfile, Shot, Tag

logger = logging.getLogger(__name__)

CANDIDATES_PER_WINDOW = 5
PARALLEL_KEYFRAMES = 2
CUT_CURVE_RADIUS = 12  # frames each side of a cut kept as its evidence
MAX_VIDEO_TAGS = 24


@dataclass
class Window:
    """A keyframe window of a detected shot, before it is stored."""

    shot: shot_maths.Shot
    start_frame: int
    end_frame: int
    start_s: float
    end_s: float
    keyframe: kf.Keyframe
    image: np.ndarray


def analyze_video(
    item: MediaItem, client, bank, cfg: Settings, progress: Callable[[str, int, int], None]
) -> None:
    """Run the stages that are not done yet (a redelivered task resumes). Raises
    ``VideoDecodeError`` for a file that breaks, and the client's errors."""
    path = Path(item.file.path)
    with (
        tempfile.TemporaryDirectory(prefix="glassbox-proxy-") as tmp,
        ThreadPoolExecutor(1, thread_name_prefix="proxy") as encoder,
    ):
        # The proxy is encoded beside the analysis (PyAV encodes without the GIL, while the
        # stages below mostly wait on Triton), and stored at the end, in this thread.
        proxy = None if item.proxy else encoder.submit(video_proxy.make_proxy, path, tmp)
        try:
            _analysis_stages(item, path, client, bank, cfg, progress)
        except BaseException:
            if proxy is not None:
                proxy.cancel()
            raise
        if proxy is not None:
            progress("proxy", 0, 1)
            attach_proxy(item, proxy.result())


def _analysis_stages(item: MediaItem, path: Path, client, bank, cfg: Settings, progress) -> None:
    """Shots and keyframes, each keyframe's analysis (checkpointed), then the summary."""
    if not item.shots.exists():
        progress("shots", 0, 1)
        windows, curve = detect_windows(path, item, client, cfg)
        store_windows(item, windows, curve)
    rows = list(item.shots.order_by("index"))
    total = len(rows)
    done = sum(r.analyzed_at is not None for r in rows)
    progress("keyframes", done, total)
    pending = [r for r in rows if r.analyzed_at is None]
    policies = moderation_policies.policies_active() if pending else ()
    # Keyframes are analysed PARALLEL_KEYFRAMES at a time, so that Triton's dynamic batcher
    # merges their requests and one keyframe's Python work overlaps another's inference;
    # each is stored (its checkpoint) in this thread as soon as it is done.
    with ThreadPoolExecutor(PARALLEL_KEYFRAMES, thread_name_prefix="keyframe") as pool:
        futures = {
            pool.submit(_analyse_keyframe, r, client, bank, cfg, policies): r for r in pending
        }
        try:
            for future in as_completed(futures):
                store_window_analysis(futures[future], future.result())
                done += 1
                progress("keyframes", done, total)
        except BaseException:
            for f in futures:
                f.cancel()
            raise
    progress("summary", total, total)
    summarise(item, rows=list(item.shots.order_by("index")), bank=bank)


# -- 1. shots and keyframes ---------------------------------------------------------------


def detect_windows(
    path: Path, item: MediaItem, client, cfg: Settings
) -> tuple[list[Window], np.ndarray]:
    times, small = video_frames.small_frames_for_shots(path)
    if len(times) == 0:
        raise VideoDecodeError("no frame could be decoded", 0, None)
    # TransNetV2 marks the last frame of the outgoing shot; glassbox.video.shots wants the
    # first frame of the new one: shift by one frame.
    last_of_shot = np.asarray(client.cut_probabilities(small), dtype=np.float64)
    probabilities = np.concatenate(([0.0], last_of_shot[:-1]))
    fps = float(item.fps or len(times) / max(float(item.duration_s or 1.0), 1e-3))
    frame_times = np.asarray(times, dtype=np.float64)
    shots = shot_maths.shots_from_probabilities(
        probabilities, fps, threshold=cfg.video_shot_threshold, frame_times_s=frame_times
    )
    interval = cfg.video_keyframe_interval_s
    plans = {s.index: kf.plan_candidates(s, fps, interval, CANDIDATES_PER_WINDOW) for s in shots}
    wanted = sorted({f for frames in plans.values() for f in frames})
    decoded = video_frames.frames_at(path, wanted, cfg.video_keyframe_side, by="index")
    images = {frame: rgb for frame, (_t, rgb) in zip(wanted, decoded, strict=True)}
    windows: list[Window] = []
    for s in shots:
        spans = kf.windows(s, fps, interval)
        candidates = {f: images[f] for f in plans[s.index]}
        for key in kf.choose_keyframes(s, candidates, fps, interval, frame_times_s=frame_times):
            start, end = next(
                ((a, b) for a, b in spans if a <= key.frame < b), (s.start_frame, s.end_frame)
            )
            windows.append(
                Window(
                    shot=s,
                    start_frame=start,
                    end_frame=end,
                    start_s=_time(frame_times, start, fps),
                    end_s=s.end_s if end >= s.end_frame else _time(frame_times, end, fps),
                    keyframe=key,
                    image=images[key.frame],
                )
            )
    return windows, probabilities


def _time(frame_times: np.ndarray, frame: int, fps: float) -> float:
    return float(frame_times[frame]) if frame < len(frame_times) else frame / fps


def store_windows(item: MediaItem, windows: list[Window], curve: np.ndarray) -> None:
    fps = float(item.fps or 25.0)
    with transaction.atomic():
        item.shots.all().delete()
        for n, w in enumerate(windows):
            first = w.start_frame == w.shot.start_frame
            cut = (
                shot_maths.cut_evidence(curve, w.shot.start_frame, fps, CUT_CURVE_RADIUS)
                if first and w.shot.cut_probability is not None
                else None
            )
            row = Shot(
                item=item,
                index=n,
                shot_number=w.shot.index,
                start_s=round(w.start_s, 4),
                end_s=round(w.end_s, 4),
                start_frame=w.start_frame,
                end_frame=w.end_frame,
                cut_probability=w.shot.cut_probability if first else None,
                cut_curve={}
                if cut is None
                else {"times": list(cut.times), "probabilities": list(cut.probabilities)},
                keyframe_s=round(w.keyframe.time_s, 4),
                keyframe_blank=w.keyframe.blank,
            )
            row.keyframe.save("keyframe.jpg", ContentFile(_jpeg(w.image)), save=False)
            row.save()


def _jpeg(rgb: np.ndarray, quality: int = 88) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.asarray(rgb, dtype=np.uint8)).save(out, format="JPEG", quality=quality)
    return out.getvalue()


# -- 2. a window's analysis ---------------------------------------------------------------


def _analyse_keyframe(row: Shot, client, bank, cfg: Settings, policies) -> pipeline.Analysis:
    with row.keyframe.open("rb") as fh:
        data = fh.read()
    return pipeline.analyze(data, client, bank, cfg, policies=policies)


def store_window_analysis(row: Shot, analysis: pipeline.Analysis) -> None:
    """A window's evidence and its policy hits, stored together: its checkpoint."""
    with transaction.atomic():
        _store_window_evidence(row, analysis)
        moderation_storing.store_window_hits(row, analysis.flags)


def _store_window_evidence(row: Shot, analysis: pipeline.Analysis) -> None:
    profile = persistence.profile_fields(analysis)
    caption = analysis.caption.as_dict()
    row.tags = [
        {
            "concept_id": int(t.concept_id),
            "name": t.name,
            "wnid": t.wnid,
            "score": round(float(t.score), 4),
            "box": list(t.box) if t.box is not None else None,
            "justification": t.justification,
            "path": [str(p) for p in t.path],
        }
        for t in analysis.tags
    ]
    row.cams = profile["cams"]
    row.caption, row.caption_phrases = str(caption["text"]), list(caption["phrases"])
    row.text_lines = [persistence.line_json(line) for line in analysis.text_lines]
    row.nsfw = [persistence.detection_json(d) for d in analysis.nsfw]
    row.vector, row.appearance = profile["vector"], profile["appearance"]
    row.concept_ids, row.weights = profile["concept_ids"], profile["weights"]
    row.text_terms = profile["text_terms"]
    row.analyzed_at = timezone.now()
    row.save()


# -- 3. the video as a whole ----------------------------------------------------------------


def summarise(item: MediaItem, rows: list[Shot], bank) -> None:
    """The video's tags, caption, read text, detections and profile, from its windows."""
    duration = max(float(item.duration_s or 0.0), max((r.end_s for r in rows), default=0.0))
    duration = duration or 1.0
    observations = [
        timeline.Observation(
            key=str(t["concept_id"]),
            name=t["name"],
            shot_index=r.index,
            keyframe_frame=r.index,  # one keyframe per window: the window stands for it
            score=min(1.0, max(0.0, float(t["score"]))),
        )
        for r in rows
        for t in r.tags
    ]
    insights = timeline.aggregate(observations, rows, duration_s=duration)[:MAX_VIDEO_TAGS]
    by_index = {r.index: r for r in rows}
    weights = np.array([max(r.duration_s, 1e-3) for r in rows], dtype=np.float64)
    with transaction.atomic():
        locked = MediaItem.objects.select_for_update().get(pk=item.pk)
        locked.tags.all().delete()
        Tag.objects.bulk_create(
            _video_tag(locked, rank, insight, by_index, duration)
            for rank, insight in enumerate(insights)
        )
        locked.caption = timeline.summary_of_captions((r.start_s, r.end_s, r.caption) for r in rows)
        locked.caption_phrases = []
        locked.text_lines = _ranged(rows, "text_lines")
        locked.nsfw = _ranged(rows, "nsfw")
        locked.analyzed_at = timezone.now()
        locked.save(
            update_fields=["caption", "caption_phrases", "text_lines", "nsfw", "analyzed_at"]
        )
        SemanticProfile.objects.update_or_create(
            item=locked, defaults=_profile(rows, weights, insights, by_index)
        )
    item.refresh_from_db()


def _video_tag(item, rank, insight: timeline.Insight, by_index, duration: float) -> Tag:
    best = max(insight.instances, key=lambda i: i.confidence)
    row = by_index[best.shot_index]
    seen = next((t for t in row.tags if str(t["concept_id"]) == insight.key), {})
    return Tag(
        item=item,
        rank=rank,
        concept_id=int(insight.key),
        name=insight.name,
        wnid=str(seen.get("wnid", "")),
        score=round(float(insight.confidence), 4),
        box=seen.get("box"),
        cam=row.cams.get(insight.key) or [[0.0] * 7 for _ in range(7)],
        justification=timeline.justify_ranges(insight.name, insight.instances, duration),
        contributing_concepts=[],
        path=list(seen.get("path") or []),
        instances=[
            {
                "start": round(i.start_s, 3),
                "end": round(i.end_s, 3),
                "confidence": round(float(i.confidence), 4),
                "shot": int(i.shot_index),
                "keyframe_s": by_index[i.shot_index].keyframe_s,
            }
            for i in sorted(insight.instances, key=lambda i: i.start_s)
        ],
    )


def _ranged(rows: list[Shot], field: str) -> list[dict]:
    """Read lines or detections of every window, each with its time range and window."""
    return [
        {**entry, "start": r.start_s, "end": r.end_s, "shot": r.index}
        for r in rows
        for entry in getattr(r, field) or []
    ]


def _profile(rows, weights, insights, by_index) -> dict:
    """The video's semantic profile: the duration-weighted mean of its windows' vectors, the
    aggregated tags as its concepts, each with the CAM of the window that shows it best."""
    vectors = [r.vector_array() for r in rows]
    dim = max((v.size for v in vectors), default=0)
    mean = np.zeros(dim, dtype=np.float64)
    for v, w in zip(vectors, weights, strict=True):
        if v.size == dim:
            mean += w * v
    norm = float(np.linalg.norm(mean))
    vector = (mean / norm if norm > 0 else mean).astype("<f4")
    appearance = [r.appearance_array() for r in rows if r.appearance_array().size]
    app = np.mean(np.stack(appearance), axis=0) if appearance else np.zeros(0)
    cams = {}
    for insight in insights:
        best = max(insight.instances, key=lambda i: i.confidence)
        cam = by_index[best.shot_index].cams.get(insight.key)
        if cam is not None:
            cams[insight.key] = cam
    return {
        "vector": vector.tobytes(),
        "concept_ids": [int(i.key) for i in insights],
        "weights": [round(float(i.confidence), 6) for i in insights],
        "cams": cams,
        "appearance": np.asarray(app, dtype="<f4").tobytes(),
        "text_terms": [],
    }


def attach_proxy(item: MediaItem, info: video_proxy.ProxyInfo | None) -> None:
    """Store the browser-playable copy ``video_proxy.make_proxy`` made (``None``: the
    original already plays)."""
    if info is None:
        MediaItem.objects.filter(pk=item.pk).update(proxy_mime=item.mime)
        return
    with open(info.path, "rb") as fh:
        item.proxy.save(f"proxy{Path(info.path).suffix}", File(fh), save=False)
    MediaItem.objects.filter(pk=item.pk).update(proxy=item.proxy.name, proxy_mime=info.mime)
