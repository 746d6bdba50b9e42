"""Video benchmark: the real-time factor of the analysis by stage, and shot detection's F1 and
speed (TransNetV2 in Triton against a content-difference baseline), in one run.

1. **Real-time factor** (seconds of video per second of wall time) for each video
   (``--videos``, default Debian's ``Megamind.avi`` and ``vtest.avi``), running what the worker
   runs for a video (``web/media/video_work.py``), stage by stage, in this process against
   a real Triton and Milvus Lite server on bench ports:

   - decode: every frame at 48x27 (``small_frames_for_shots``);
   - shots: ``shot_boundaries`` (TransNetV2) through Triton, and the cuts made into shots;
   - keyframes: the candidates decoded and the keyframes chosen;
   - analysis: each keyframe through the image pipeline (concepts, CAMs, read text, nudity
     detector, caption, semantic vector);
   - proxy: the browser-playable copy (libx264), when the original does not play;
   - index: the rows (the video's and one per window) upserted into Milvus.

   The database writes of the worker are not included (SQLite or PostgreSQL: milliseconds).

2. **Shot detection** on ``--rendered`` clips made here from the sample photos, with hard cuts
   and cross-fades at known frames (seeded, so every run renders the same set): precision,
   recall and F1 within two frames, and frames per second, for TransNetV2 and for
   ``glassbox.video.shots.cuts_by_difference`` (adaptive content difference, like
   PySceneDetect's adaptive detector), on the same clips.

Run:  .venv/bin/python bench/video.py [--videos PATH,PATH] [--rendered 8]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "infra"), str(REPO / "services"), str(REPO)]

from glassbox.config import get_settings  # noqa: E402
from glassbox_launch.process import start, stop  # noqa: E402
from glassbox_launch.stack import Ports, Stack  # noqa: E402

from tests.support.edited_clips import render_set  # noqa: E402

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
DEFAULT_VIDEOS = [OPENCV_DATA / "Megamind.avi", OPENCV_DATA / "vtest.avi"]
PHOTOS = sorted(Path("/usr/share/darknet/data").glob("*.jpg"))
PARALLEL_KEYFRAMES = 2  # web/media/video_work.py
BENCH_PORTS = Ports(redis=26390, triton=28110, milvus=28540, web=28010)


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - started


def analyse_video(path: Path, client, bank, cfg, index, overlap: bool = False) -> dict:
    """What the worker does for one video, each stage timed (seconds), and the wall time of
    the whole. With ``overlap`` the proxy is encoded in a thread from the start, as
    ``media.video_work.analyze_video`` does since issue 14 (its stage time is then its own,
    run beside the others); without, after the rest, as before."""
    from concurrent.futures import ThreadPoolExecutor

    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(1) as encoder:
        started = time.perf_counter()
        proxy = encoder.submit(timed, _proxy_maker(), path, tmp) if overlap else None
        out = _stages(path, client, bank, cfg, index, tmp if proxy is None else None)
        if proxy is not None:
            _info, out["stages"]["proxy"] = proxy.result()
        out["wall"] = time.perf_counter() - started
    out["mode"] = "proxy beside the analysis" if overlap else "one stage after another"
    return out


def _proxy_maker():
    from glassbox.media import video_proxy

    return video_proxy.make_proxy


def _stages(path: Path, client, bank, cfg, index, proxy_dir: str | None) -> dict:
    from glassbox.analysis import pipeline
    from glassbox.clients.milvus.schema import IndexRow, shot_row_id
    from glassbox.media import video, video_frames, video_proxy
    from glassbox.video import keyframes as kf
    from glassbox.video import shots as shot_maths

    info = video.probe_video(path, cfg)
    t: dict[str, float] = {}
    (times, small), t["decode"] = timed(video_frames.small_frames_for_shots, path)
    last_of_shot, t["shots"] = timed(client.cut_probabilities, small)
    p = np.concatenate(([0.0], np.asarray(last_of_shot, np.float64)[:-1]))
    shots = shot_maths.shots_from_probabilities(
        p, info.fps, cfg.video_shot_threshold, frame_times_s=times
    )
    started = time.perf_counter()
    interval = cfg.video_keyframe_interval_s
    plans = {s.index: kf.plan_candidates(s, info.fps, interval, 5) for s in shots}
    wanted = sorted({f for frames in plans.values() for f in frames})
    decoded = video_frames.frames_at(path, wanted, cfg.video_keyframe_side, by="index")
    images = {f: rgb for f, (_t, rgb) in zip(wanted, decoded, strict=True)}
    keys = [
        key
        for s in shots
        for key in kf.choose_keyframes(
            s, {f: images[f] for f in plans[s.index]}, info.fps, interval, frame_times_s=times
        )
    ]
    t["keyframes"] = time.perf_counter() - started
    started = time.perf_counter()
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(PARALLEL_KEYFRAMES) as pool:  # as media.video_work does
        analyses = list(
            pool.map(lambda k: pipeline.analyze(_jpeg(images[k.frame]), client, bank, cfg), keys)
        )
    t["analysis"] = time.perf_counter() - started
    if proxy_dir is not None:
        _proxy, t["proxy"] = timed(video_proxy.make_proxy, path, proxy_dir)
    else:
        t["proxy"] = 0.0  # filled in by the caller: the thread's own time
    started = time.perf_counter()
    rows = [
        IndexRow(
            id=shot_row_id(1, n),
            vector=a.semantic.vector,
            owner_id=1,
            is_public=True,
            kind="video",
            created=0,
            appearance=_unit(a.appearance),
            item_id=1,
            shot=n,
        )
        for n, a in enumerate(analyses)
    ]
    index.upsert(rows)
    index.flush()
    t["index"] = time.perf_counter() - started
    return {
        "name": path.name,
        "duration": info.duration_s,
        "frames": len(times),
        "size": f"{info.width}x{info.height}",
        "shots": len(shots),
        "keyframes": len(keys),
        "stages": t,
    }


def _unit(v) -> np.ndarray:
    a = np.asarray(v, np.float32)
    n = float(np.linalg.norm(a))
    return a / n if n > 0 else a


def _jpeg(rgb: np.ndarray) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=88)
    return out.getvalue()


def shot_detection(clips, client) -> list[tuple[str, float, float, float, float]]:
    from glassbox.video import shots as shot_maths

    out = []
    for name in ("TransNetV2 (Triton)", "content difference (adaptive)"):
        tp = fp = fn = 0
        frames = 0
        started = time.perf_counter()
        for small, truth in clips:
            frames += len(small)
            if name.startswith("TransNet"):
                last = np.asarray(client.cut_probabilities(small), np.float64)
                found = [c.frame for c in shot_maths.detect_cuts(np.concatenate(([0], last[:-1])))]
            else:
                found = shot_maths.cuts_by_difference(small)
                found = [getattr(c, "frame", c) for c in found]
            score = shot_maths.f1_of_cuts(found, truth, tolerance_frames=2)
            tp += score.matched
            fp += len(found) - score.matched
            fn += len(truth) - score.matched
        seconds = time.perf_counter() - started
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.append((name, precision, recall, f1, frames / seconds))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--videos", default=",".join(str(p) for p in DEFAULT_VIDEOS))
    ap.add_argument("--rendered", type=int, default=8, help="clips for the shot-detection table")
    args = ap.parse_args()
    videos = [Path(p) for p in args.videos.split(",") if p]
    missing = [str(p) for p in videos if not p.exists()]
    if missing or not PHOTOS:
        print(f"missing: {missing or 'the darknet photos'} (run infra/bin/setup)", file=sys.stderr)
        return 2
    from glassbox.clients.milvus.client import MediaIndex
    from glassbox.clients.triton import InferenceClient
    from glassbox.concepts import ConceptBank

    stack = Stack(var_dir=REPO / "var" / "bench-video", ports=BENCH_PORTS)
    shutil.rmtree(stack.var_dir, ignore_errors=True)
    services = [stack.milvus(), stack.triton()]
    for svc in services:
        start(svc)
    try:
        cfg = replace(get_settings(), triton_url=f"127.0.0.1:{BENCH_PORTS.triton}")
        client = InferenceClient(cfg.triton_url, timeout=300)
        bank = ConceptBank.load(cfg.concept_bank_path)
        index = MediaIndex(f"http://127.0.0.1:{BENCH_PORTS.milvus}", "bench_video", timeout=60)
        index.ensure()
        client.cut_probabilities(np.zeros((100, 27, 48, 3), np.uint8))  # warm up
        results = [  # both ways, one after the other: the same machine load
            analyse_video(p, client, bank, cfg, index, overlap)
            for p in videos
            for overlap in (False, True)
        ]
        clips = render_set(PHOTOS, args.rendered)
        detection = shot_detection(clips, client)
    finally:
        for svc in reversed(services):
            stop(svc)

    stages = list(results[0]["stages"])
    print("\nVideo analysis, one process as the worker runs it; Triton and Milvus Lite on CPU\n")
    print(
        "| video | mode | size | duration s | frames | shots | keyframes | "
        + " | ".join(f"{s} s" for s in stages)
        + " | wall s | real-time factor |"
    )
    print("|---|---|---|---|---|---|---|" + "---|" * len(stages) + "---|---|")
    for r in results:
        print(
            f"| {r['name']} | {r['mode']} | {r['size']} | {r['duration']:.1f} | {r['frames']} | "
            f"{r['shots']} | {r['keyframes']} | "
            + " | ".join(f"{r['stages'][s]:.2f}" for s in stages)
            + f" | {r['wall']:.2f} | {r['duration'] / r['wall']:.2f}x |"
        )
    frames = sum(len(c[0]) for c in clips)
    cuts = sum(len(c[1]) for c in clips)
    print(
        f"\nShot detection on {len(clips)} rendered clips ({frames} frames, {cuts} cuts, one "
        "cross-fade each), within 2 frames\n"
    )
    print("| detector | precision | recall | F1 | frames/s |")
    print("|---|---|---|---|---|")
    for name, precision, recall, f1, fps in detection:
        print(f"| {name} | {precision:.3f} | {recall:.3f} | {f1:.3f} | {fps:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
