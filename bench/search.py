"""Search latency with N indexed items (default 10 000), split into its parts.

Builds a throw-away SQLite database and a fresh Milvus Lite collection with N ready items whose
semantic profiles are synthetic but shaped like real ones (ConSE mixes of 8 concepts from the
real concept bank), starts Triton and a Milvus Lite server, then runs text queries through the
same ``search.engine.search`` the web app uses, timing encode (Triton), Milvus, hydrate (the
database) and explain (ConSE decomposition + justification).

Run:  .venv/bin/python bench/search.py [--items 10000] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "infra"), str(REPO / "services"), str(REPO / "web")]

from glassbox_launch.process import start, stop  # noqa: E402
from glassbox_launch.stack import Ports, Stack  # noqa: E402

BENCH_PORTS = Ports(redis=26381, triton=28110, milvus=28540, web=28010)
QUERIES = [
    "dog",
    "cat",
    "bird",
    "car",
    "a red sports car",
    "food",
    "pizza",
    "boat on the water",
    "mountain",
    "musical instrument",
    "furniture",
    "a person riding a horse",
    "flower",
    "computer keyboard",
    "building",
    "snake",
    "insect",
    "fruit",
    "airplane",
    "shoes",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--items", type=int, default=10_000)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()

    var = REPO / "var" / "bench-search"
    shutil.rmtree(var, ignore_errors=True)
    stack = Stack(var_dir=var, ports=BENCH_PORTS)
    os.environ.update(
        stack.app_env()
        | {
            "GLASSBOX_DATABASE_URL": f"sqlite:///{var}/bench.sqlite3",
            "GLASSBOX_SECRET_KEY": "bench-only",
            "GLASSBOX_MILVUS_COLLECTION": "bench_media",
            "DJANGO_SETTINGS_MODULE": "glassbox_web.settings",
        }
    )
    services = [stack.milvus(), stack.triton()]
    for svc in services:
        start(svc)
    try:
        return run(args)
    finally:
        for svc in reversed(services):
            stop(svc)


def run(args) -> int:
    import django

    django.setup()
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from glassbox import conse
    from glassbox.index import IndexRow
    from glassbox_web import runtime
    from media.models import MediaItem, SemanticProfile
    from search.engine import search

    call_command("migrate", "--noinput", verbosity=0)
    User = get_user_model()
    owner = User.objects.create_user("bench", password="bench-password")
    other = User.objects.create_user("other", password="other-password")
    bank = runtime.concept_bank()
    index = runtime.media_index()
    rng = np.random.default_rng(0)

    t0 = time.perf_counter()
    batch = 1000
    for start_at in range(0, args.items, batch):
        n = min(batch, args.items - start_at)
        items = MediaItem.objects.bulk_create(
            MediaItem(
                owner=owner if i % 2 == 0 else other,
                visibility="public" if i % 4 == 1 else "private",
                title=f"synthetic {start_at + i}",
                file=f"originals/bench-{start_at + i}.jpg",
                mime="image/jpeg",
                width=640,
                height=480,
                size_bytes=1,
                status="ready",
            )
            for i in range(n)
        )
        profiles, rows = [], []
        for item in items:
            probs = np.zeros(len(bank), dtype=np.float32)
            chosen = rng.choice(len(bank), size=16, replace=False)
            probs[chosen] = rng.dirichlet(np.full(16, 0.3)).astype(np.float32)
            sem = conse.semantic_vector(probs, bank.embeddings, 8)
            cams = {str(c): rng.random((7, 7)).round(3).tolist() for c in sem.concept_ids}
            profiles.append(
                SemanticProfile(
                    item=item,
                    vector=sem.vector.astype("<f4").tobytes(),
                    concept_ids=list(map(int, sem.concept_ids)),
                    weights=list(map(float, sem.weights)),
                    cams=cams,
                )
            )
            rows.append(
                IndexRow(
                    id=item.pk,
                    vector=sem.vector,
                    owner_id=item.owner_id,
                    is_public=item.visibility == "public",
                    kind="image",
                    created=int(time.time()),
                )
            )
        SemanticProfile.objects.bulk_create(profiles)
        index.upsert(rows)
    index.flush()
    build_s = time.perf_counter() - t0

    phases: dict[str, list[float]] = {}
    totals: list[float] = []
    for q in range(args.queries + 5):
        timings: dict[str, float] = {}
        t = time.perf_counter()
        results = search(owner, QUERIES[q % len(QUERIES)], limit=12, timings=timings)
        elapsed = (time.perf_counter() - t) * 1000
        if q < 5:  # warm-up: connections, caches
            continue
        assert results, "a query over the synthetic corpus returned nothing"
        totals.append(elapsed)
        for key, value in timings.items():
            phases.setdefault(key, []).append(value)

    print(
        f"\nSearch, {args.items} indexed items (built in {build_s:.0f} s), {args.queries} text "
        f"queries, limit 12, viewer owns half the items, FLAT index on Milvus Lite server\n"
    )
    print("| part | p50 ms | p95 ms | mean ms | share of total |")
    print("|---|---|---|---|---|")
    total_mean = statistics.mean(totals)
    for key, values in [*phases.items(), ("total", totals)]:
        print(
            f"| {key} | {percentile(values, 50):.1f} | {percentile(values, 95):.1f} | "
            f"{statistics.mean(values):.1f} | {statistics.mean(values) / total_mean:.0%} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
