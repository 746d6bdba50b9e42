"""HNSW parameter sweep: recall@10 and latency for M, efConstruction and the search ef.

One Milvus Lite collection of ``--size`` synthetic items (the corpus of ``bench/search.py``:
ConSE mixes of real concept-bank embeddings, 100 owners, the viewer owns 5 %, 25 % public) is
loaded once; for each (M, efConstruction) its semantic index is rebuilt in place (release, drop
index, create index, load: same segments, same rows) and timed, then each search ef is measured
with real text queries encoded by Triton, through ``MediaIndex.search`` with the viewer's
privacy filter (every search in the app has one):

- recall@10: the exact top 10 (numpy, same rows, same filter) among the first 10 hits;
- 10@48: among the 48 candidates ``search.engine`` asks for (it re-scores them exactly), at
  ef = max(ef, 48), which is what ``MediaIndex.search`` sends for 48 candidates: in the
  engine an ef below 48 behaves as 48;
- the Milvus call's latency (p50 / p95), measured at the engine's shape (48 candidates) for
  ef >= 64 and at 10 hits for ef < 48.

A FLAT (exact) rebuild of the same collection ends the sweep, as the baseline.

Milvus Lite builds one HNSW graph per sealed segment (per partition-key bucket, at most
100 000 rows per segment), so recall depends on the segment sizes, printed with the table.
``--graph-rows N`` adds a second table: the same sweep on one faiss HNSW graph of N rows (the
library Milvus Lite uses, with its filter, an IDSelectorBatch of the visible rows), i.e. one
segment as large as a collection of ~16 x N items makes them; this isolates the graph's own
recall and search time from the server's per-row overhead.

Run:  .venv/bin/python bench/hnsw_sweep.py                        # 100k items, ~30-40 min
      .venv/bin/python bench/hnsw_sweep.py --size 20000 --m 16 --efc 200   # quick look
      .venv/bin/python bench/hnsw_sweep.py --graph-rows 62500       # + one 1M-sized segment
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time

import numpy as np
import searchkit as sk
from glassbox.clients.milvus.filters import Filters
from glassbox_launch.process import start, stop
from glassbox_launch.stack import Ports, Stack

PORTS = Ports(redis=26392, triton=28130, milvus=28560, web=28030)
VAR = sk.REPO / "var" / "bench-hnsw"
COLLECTION = "bench_hnsw_sweep"
WANT = 48
# case: (viewer, filters). User 1 owns 5 % of the rows; user 2 about 1 % (searchkit.OWNERS)
CASES = {
    "privacy": (sk.VIEWER, Filters()),
    "mine": (sk.VIEWER, Filters(owner="mine")),
    "small-owner": (2, Filters(owner="mine")),
}


# the columns that say which graph and filter a row measured, in both tables
GRAPH_COLUMNS = ("filter", "M", "efConstruction", "build s", "ef")

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=60)
    ap.add_argument("--m", default="8,16,32")
    ap.add_argument("--efc", default="100,200,400", help="efConstruction values")
    ap.add_argument("--ef", default="16,32,64,128,256", help="search ef values")
    ap.add_argument(
        "--cases",
        default="privacy,mine",
        help="filters: privacy (own or public, 29%% of rows), mine (owner=mine, 5%%), "
        "small-owner (owner=mine for a user with about 1%%)",
    )
    ap.add_argument("--graph-rows", type=int, default=0, help="also sweep one faiss graph")
    ap.add_argument(
        "--graph-configs",
        default="8:100,16:200,32:200,32:400",
        help="M:efConstruction pairs for --graph-rows",
    )
    args = ap.parse_args()
    args.cases = [c for c in args.cases.split(",") if c]
    ms = [int(x) for x in args.m.split(",")]
    efcs = [int(x) for x in args.efc.split(",")]
    efs = [int(x) for x in args.ef.split(",")]

    shutil.rmtree(VAR, ignore_errors=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the services on kill too
    stack = Stack(var_dir=VAR, ports=PORTS)
    os.environ.update(stack.app_env())
    t_start = time.perf_counter()
    started = []
    try:
        for svc in (stack.milvus(), stack.triton()):
            start(svc)
            started.append(svc)
        return run(args, stack, ms, efcs, efs, t_start)
    finally:
        for svc in reversed(started):
            stop(svc)


def run(args, stack, ms, efcs, efs, t_start) -> int:
    from glassbox.clients.milvus.client import MediaIndex
    from glassbox.clients.triton import InferenceClient
    from glassbox.concepts import ConceptBank
    from glassbox.config import get_settings
    from glassbox.retrieval import lexical

    cfg = get_settings()
    bank = ConceptBank.load(cfg.concept_bank_path)
    client = InferenceClient(stack.app_env()["GLASSBOX_TRITON_URL"], timeout=120)
    texts = sk.query_texts(bank, args.queries)
    queries = np.asarray(client.embed_texts(texts), dtype=np.float32)
    print(f"\nmachine: {sk.machine_line()}", flush=True)

    t0 = time.perf_counter()
    gen = sk.Generator(bank, appearance_dim=2, seed=0)  # appearance is not under test
    chunks = list(gen.chunks(args.size))
    truth = sk.truth_from(chunks)
    gen_s = time.perf_counter() - t0

    index = MediaIndex(
        stack.app_env()["GLASSBOX_MILVUS_URI"],
        COLLECTION,
        index_type="HNSW",
        appearance_dim=2,
        timeout=3600,
        exact_below=0,
    )
    index.drop()
    index.ensure()
    t0 = time.perf_counter()
    for chunk in chunks:
        sk.insert_rows(index, sk.index_rows(chunk, lexical))
    insert_s = time.perf_counter() - t0
    index.flush()
    wait_s = sk.wait_indexed(VAR / "milvus", COLLECTION)
    load_s = time.perf_counter() - t0
    del chunks
    segments = sk.segment_sizes(VAR / "milvus", COLLECTION)
    print(
        f"loaded {args.size:,} rows in {load_s:.0f} s (insert {insert_s:.0f} s, index build "
        f"after the flush {wait_s:.0f} s); {len(segments)} segments",
        flush=True,
    )

    cases = {c: CASES[c] for c in args.cases}
    exact = {}
    for case, f in cases.items():
        mask = truth.mask(f[0], f[1])
        exact[case] = [truth.top(q, mask, 10) for q in queries]
    rows = []
    configs = [(m, efc) for m in ms for efc in efcs]
    for m, efc in configs:
        # every config is built the same way, the first too (its build time is then comparable)
        build_s = sk.switch_vector_index(index, "HNSW", m, efc)
        built = graph_params(VAR / "milvus")
        for case, f in cases.items():
            for ef in efs:
                r = sweep_ef(index, queries, exact[case], ef, f)
                rows.append({"case": case, "M": m, "efc": efc, "build_s": build_s, "ef": ef, **r})
                print(
                    f"  {case} M={m} efC={efc} ef={ef}: recall@10 {r['r10']:.3f}, "
                    f"10@48 {r['c48']:.3f}, p50 {r['p50']:.0f} ms (build {build_s:.0f} s, "
                    f"files say {built})",
                    flush=True,
                )
    flat_s = sk.switch_vector_index(index, "FLAT")
    flat = {
        case: sweep_ef(index, queries, exact[case], 64, f, flat=True) for case, f in cases.items()
    }
    index.drop()
    index.close()

    graph_rows = []
    if args.graph_rows:
        graph_rows = graph_sweep(truth, queries, args.graph_rows, args.graph_configs, efs, cases)

    report(args, cfg, rows, flat, flat_s, segments, gen_s, insert_s, wait_s, graph_rows)
    print(f"\nwhole run: {time.perf_counter() - t_start:.0f} s")
    return 0


def graph_params(milvus_dir) -> str:
    """M and efConstruction as stored in one segment's HNSW file (checks the rebuild)."""
    import faiss

    files = sorted(
        (milvus_dir / "collections" / COLLECTION).glob("partitions/*/indexes/*.semantic.hnsw.idx")
    )
    if not files:
        return "no file"
    idx = faiss.read_index(str(files[0]))
    return f"M={idx.hnsw.nb_neighbors(1)}, efC={idx.hnsw.efConstruction}"


def sweep_ef(index, queries, exact, ef, case, flat: bool = False) -> dict:
    viewer, filters = case
    index.hnsw_ef = ef
    limit = WANT if (flat or ef >= WANT) else 10
    r10, c48, lat = [], [], []
    index.search(queries[0], limit, viewer, filters)  # warm
    for q, want in zip(queries, exact, strict=True):
        t0 = time.perf_counter()
        hits = [h.id for h in index.search(q, limit, viewer, filters)]
        lat.append((time.perf_counter() - t0) * 1000)
        r10.append(len(set(want) & set(hits[:10])) / len(want))
        if limit == WANT:
            c48.append(len(set(want) & set(hits)) / len(want))
    return {
        "r10": float(np.mean(r10)),
        "r10_min": float(np.min(r10)),
        "c48": float(np.mean(c48)) if c48 else float("nan"),
        "limit": limit,
        "p50": sk.pct(lat, 50),
        "p95": sk.pct(lat, 95),
    }


def graph_sweep(truth, queries, n_rows, configs, efs, cases) -> list[dict]:
    """faiss HNSW on one graph of the first ``n_rows`` rows, as Milvus Lite builds a segment,
    searched with each case's filter as an IDSelectorBatch (as Milvus Lite does)."""
    import faiss

    data = np.ascontiguousarray(truth.semantic[:n_rows])
    allowed, exact = {}, {}
    for case, f in cases.items():
        allowed[case] = np.flatnonzero(truth.mask(f[0], f[1])[:n_rows]).astype(np.int64)
        rows = allowed[case]
        exact[case] = [set(rows[np.argsort(-(data[rows] @ q))[:10]].tolist()) for q in queries]
    out = []
    for pair in configs.split(","):
        m, efc = (int(x) for x in pair.split(":"))
        index = faiss.IndexHNSWFlat(data.shape[1], m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = efc
        t0 = time.perf_counter()
        index.add(data)
        build_s = time.perf_counter() - t0
        print(f"  graph {n_rows:,} rows M={m} efC={efc}: built in {build_s:.0f} s", flush=True)
        for case in cases:
            for ef in efs:
                row = {"case": case, "M": m, "efc": efc, "build_s": build_s, "ef": ef}
                for k in (10, WANT):
                    if k == WANT and ef < WANT:
                        continue
                    sel = faiss.IDSelectorBatch(allowed[case])
                    params = faiss.SearchParametersHNSW(sel=sel, efSearch=max(ef, k))
                    r10, c48, lat = [], [], []
                    for q, want in zip(queries, exact[case], strict=True):
                        t0 = time.perf_counter()
                        _, ids = index.search(q[None, :], k, params=params)
                        lat.append((time.perf_counter() - t0) * 1000)
                        r10.append(len(want & set(ids[0][:10].tolist())) / 10)
                        c48.append(len(want & set(ids[0].tolist())) / 10)
                    if k == 10:
                        row |= {"r10": float(np.mean(r10)), "p50_10": sk.pct(lat, 50)}
                    else:
                        row |= {"c48": float(np.mean(c48)), "p50_48": sk.pct(lat, 50)}
                out.append(row)
        del index
    return out


def report(args, cfg, rows, flat, flat_s, segments, gen_s, insert_s, wait_s, graph_rows):
    print(f"\n\n# HNSW sweep, {args.size:,} items\n")
    print(
        f"{sk.machine_line()}. Milvus Lite server on loopback; {len(segments)} sealed segments "
        f"(one HNSW graph each), rows min / median / max {min(segments):,} / "
        f"{segments[len(segments) // 2]:,} / {max(segments):,}. {args.queries} text queries "
        f"(Triton MiniLM). Filters: privacy = the viewer's own or public rows "
        f"({sk.VIEWER_SHARE + (1 - sk.VIEWER_SHARE) * sk.PUBLIC_SHARE:.0%}), what every "
        f"search carries; mine = owner=mine ({sk.VIEWER_SHARE:.0%}); small-owner = owner=mine "
        f"for user 2 (about {(1 - sk.VIEWER_SHARE) / (sk.OWNERS - 1):.1%}). All searched "
        f"through the graph (exact_below=0). Current defaults: M={cfg.milvus_hnsw_m}, "
        f"efConstruction={cfg.milvus_hnsw_ef_construction}, ef={cfg.milvus_hnsw_ef}.\n"
    )
    print(
        f"Corpus generated in {gen_s:.0f} s; inserted in {insert_s:.0f} s; first index build "
        f"(background, after the flush) {wait_s:.0f} s. Build s below: the rebuild of the "
        f"semantic index in place (release + drop + create + load).\n"
    )
    table = [
        [
            r["case"],
            r["M"],
            r["efc"],
            sk.fmt(r["build_s"], 0),
            r["ef"],
            f"{r['r10']:.3f}",
            f"{r['r10_min']:.1f}",
            "–" if r["c48"] != r["c48"] else f"{r['c48']:.3f}",
            f"{sk.fmt(r['p50'])} / {sk.fmt(r['p95'])} ({r['limit']})",
        ]
        for r in sorted(rows, key=lambda r: (r["case"] != "privacy", r["M"], r["efc"], r["ef"]))
    ]
    table += [
        [
            case,
            "FLAT",
            "",
            sk.fmt(flat_s, 0),
            "",
            f"{f['r10']:.3f}",
            f"{f['r10_min']:.1f}",
            f"{f['c48']:.3f}",
            f"{sk.fmt(f['p50'])} / {sk.fmt(f['p95'])} ({f['limit']})",
        ]
        for case, f in flat.items()
    ]
    print(
        sk.table(
            [
                *GRAPH_COLUMNS,
                "recall@10",
                "min recall@10",
                "10@48 (engine)",
                "Milvus ms p50 / p95 (hits asked)",
            ],
            table,
        )
    )
    if graph_rows:
        print(
            f"\n## One faiss HNSW graph of {args.graph_rows:,} rows (one Milvus Lite segment), "
            f"the filter as an IDSelectorBatch, in process\n"
        )
        print(
            sk.table(
                [*GRAPH_COLUMNS, "recall@10", "10@48", "search ms p50 (10)", "search ms p50 (48)"],
                [
                    [
                        g["case"],
                        g["M"],
                        g["efc"],
                        sk.fmt(g["build_s"], 0),
                        g["ef"],
                        f"{g['r10']:.3f}",
                        f"{g['c48']:.3f}" if "c48" in g else "–",
                        f"{g['p50_10']:.2f}",
                        f"{g['p50_48']:.2f}" if "p50_48" in g else "–",
                    ]
                    for g in graph_rows
                ],
            )
        )


if __name__ == "__main__":
    sys.exit(main())
