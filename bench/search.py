"""Search benchmark: latency by part, recall against exact search, HTTP throughput, ratios.

For each corpus size (``--sizes``, default 10 000) a synthetic corpus shaped like real analyses
(see ``bench/searchkit.py``) is loaded into two Milvus collections with the same rows, one with
the configured HNSW index (``GLASSBOX_MILVUS_HNSW_*``, defaults M=16, efConstruction=200,
ef=512, exact scoring off) and one FLAT (exact), and, up to ``--db-max`` items, into the
SQLite database (``MediaItem`` + ``SemanticProfile``). Triton, a Milvus Lite server and Redis
(the lexical channels' word sets, ``glassbox.clients.milvus.vocabulary``, built after the load)
run on bench ports. Then, side by side in one run (each query is sent to both indexes, alternating
which goes first, and the query types are interleaved, so machine load hits all alike):

1. **Latency** of ``search.engine.search`` / ``engine.similar`` (the functions the views call)
   for five query types (text queries cold: the query-embedding cache emptied before each;
   then ``text-warm``, the same query again with its vectors cached), split into the
   engine's parts (encode, milvus, hydrate, explain; for image queries also "source", reading
   the source item), and the Milvus part split further into its calls (vector search, the
   ids query, exact scoring, BM25 caption/OCR channels):

   - text: a text query, no filter (only the privacy rule: own or public);
   - filtered: the same text, kind=image, the last 12 months, not flagged;
   - mine: the same text, owner=mine (the viewer owns 5 % of the items);
   - tag: the same text, tag = the concept it names ("a red sports car" -> car);
   - image: find similar from an item (appearance + semantic vectors).

2. **Recall@10** of each index against numpy brute force on the same rows with the same
   filter, for each query type's vector channel, at the engine's request shape (48 candidates,
   ef = max(ef, 48)); also "10@48": the share of the exact top 10 among the 48 candidates the
   engine re-scores.

3. **Throughput** over HTTP: gunicorn as the stack runs it (``Stack.web``: 2 workers x
   ``GLASSBOX_WEB_THREADS`` threads) on loopback against the first size's HNSW collection, 8
   and 32 concurrent clients with a DRF token, for text, filtered and image queries, with the
   web's query-embedding cache on (warm after the first pass over the texts) and off (cold).

4. **Bare Milvus**: after each engine call, one plain ``MilvusClient.search`` of the same
   vector, limit and filter; the table gives engine p95 / bare p95 (goal: at most 1.5x).

5. **Ratios**: filtered / text, image / text, HNSW / FLAT (p50 and p95, total and Milvus).

Sizes above ``--db-max`` (1 000 000 for example) get no database rows (a bulk SQLite load of a
million profiles takes longer than the benchmark): encode and Milvus are measured there through
the same engine calls, and hydrate/explain are taken from the largest size that had database
rows (they depend on the number of candidates, not on the index size). They also use a smaller
appearance vector (``--large-appearance-dim``, default 128: 1M x 1280 floats is 5 GB, twice
over in Milvus Lite) and only ``--large-index`` (default FLAT: an HNSW build of 1M rows takes
far longer than the benchmark on 2 cores; ``bench/hnsw_sweep.py`` reports build times).

Run:  .venv/bin/python bench/search.py                      # 10k, ~10 min on 2 cores
      .venv/bin/python bench/search.py --sizes 10000,100000,1000000 --queries 40
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import threading
import time
import urllib.parse
from pathlib import Path

import searchkit as sk
from glassbox_launch.process import start, stop
from glassbox_launch.stack import Stack

TYPES = ("text", "filtered", "mine", "tag", "image")
PARTS = ("encode", "milvus", "hydrate", "explain")
MILVUS_PARTS = ("vector", "ids", "exact", "bm25")
WANT = 48  # engine._candidates_wanted(1, 12): the candidates the engine asks each channel for
VAR = sk.REPO / "var" / "bench-search"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="10000", help="comma-separated corpus sizes")
    ap.add_argument("--queries", type=int, default=60, help="measured queries per type and index")
    ap.add_argument("--queries-large", type=int, default=20, help="the same, above --db-max")
    ap.add_argument("--warmup", type=int, default=3, help="unmeasured rounds first")
    ap.add_argument("--recall-queries", type=int, default=100, help="per type, for recall")
    ap.add_argument("--recall-queries-large", type=int, default=20, help="the same, large")
    ap.add_argument("--db-max", type=int, default=100_000, help="largest size given DB rows")
    ap.add_argument("--appearance-dim", type=int, default=1280)
    ap.add_argument("--large-appearance-dim", type=int, default=128)
    ap.add_argument("--large-index", choices=["FLAT", "HNSW", "both"], default="FLAT")
    ap.add_argument("--clients", default="8,32", help="HTTP clients; empty: no HTTP test")
    ap.add_argument("--http-seconds", type=float, default=20.0, help="per workload and clients")
    ap.add_argument("--report", help="print the tables of a results.json again, run nothing")
    ap.add_argument("--http-index", default="HNSW", help="indexes served over HTTP: HNSW,FLAT")
    ap.add_argument("--http-workers", type=int, default=2, help="gunicorn workers (stack: 2)")
    ap.add_argument(
        "--http-threads", type=int, default=0, help="threads per worker (0: the stack's)"
    )
    ap.add_argument(
        "--http-cache",
        default="on,off",
        help="query-embedding cache in the web workers: on (queries repeat, so warm after "
        "the first pass over the texts), off (every query encoded: cold)",
    )
    args = ap.parse_args()
    if args.report:
        import json

        from glassbox.config import get_settings

        report(json.loads(Path(args.report).read_text()), get_settings())
        return 0
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.clients = [int(c) for c in args.clients.split(",") if c]
    args.http_index = [k.strip().upper() for k in args.http_index.split(",") if k.strip()]
    args.http_cache = [c.strip() for c in args.http_cache.split(",") if c.strip()]

    shutil.rmtree(VAR, ignore_errors=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the services on kill too
    stack = Stack(var_dir=VAR, ports=sk.PORTS)
    os.environ.update(
        stack.app_env()
        | {
            "GLASSBOX_DATABASE_URL": f"sqlite:///{VAR}/bench.sqlite3",
            "GLASSBOX_SECRET_KEY": "bench-only",
            "GLASSBOX_MILVUS_TIMEOUT_S": "600",
            "DJANGO_SETTINGS_MODULE": "glassbox_web.settings",
        }
    )
    started = []
    t0 = time.perf_counter()
    try:
        for svc in (stack.redis(), stack.milvus(), stack.triton()):
            start(svc)
            started.append(svc)
        return run(args, stack, t0)
    finally:
        for svc in reversed(started):
            stop(svc)


def run(args, stack: Stack, t_start: float) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from glassbox.clients.milvus.client import vocabulary_from_settings
    from glassbox.config import get_settings
    from glassbox_web import runtime
    from rest_framework.authtoken.models import Token
    from search import engine

    clock = sk.Clock()
    print(f"\nmachine: {sk.machine_line()}", flush=True)
    call_command("migrate", "--noinput", verbosity=0)
    viewer = sk.create_users()
    token = Token.objects.create(user=viewer).key
    cfg = get_settings()
    bank = runtime.concept_bank()
    current: dict = {}
    runtime.media_index = lambda: current["index"]  # the engine asks the runtime for its index

    pool = sk.query_texts(bank, max(args.queries, args.recall_queries, 20))
    vectors = dict(
        zip(pool, runtime.inference_client().embed_texts(pool), strict=True)
    )  # for recall: the engine encodes its own
    tags = {q: sk.tag_for(bank, q) for q in pool}
    tagged = [q for q in pool if tags[q]]

    results: dict = {"sizes": {}, "config": vars(args) | {"hnsw": hnsw_config(cfg)}}
    db_parts: dict | None = None  # hydrate/explain samples of the largest DB-backed size
    for si, size in enumerate(args.sizes):
        large = size > args.db_max
        dim = args.large_appearance_dim if large else args.appearance_dim
        kinds = ["HNSW", "FLAT"] if not large or args.large_index == "both" else [args.large_index]
        print(f"\n== {size:,} items: indexes {', '.join(kinds)}, appearance {dim}-d", flush=True)
        gen = sk.Generator(bank, dim, seed=si)
        offset = si * 10_000_000
        chunks = clock.run(
            f"{size}: generate", lambda g=gen, o=offset, n=size: list(g.chunks(n, id_offset=o))
        )
        truth = sk.truth_from(chunks)
        sources = image_sources(truth, max(args.queries, args.recall_queries), seed=si)

        indexes, build = {}, {}
        for kind in kinds:
            index = sk.TimedIndex(
                stack.app_env()["GLASSBOX_MILVUS_URI"],
                f"bench_{size}_{kind.lower()}",
                index_type=kind,
                appearance_dim=dim,
                timeout=600,
                hnsw_m=cfg.milvus_hnsw_m,
                hnsw_ef_construction=cfg.milvus_hnsw_ef_construction,
                hnsw_ef=cfg.milvus_hnsw_ef,
                exact_below=cfg.milvus_exact_below,
                vocabulary=vocabulary_from_settings(cfg, f"bench_{size}_{kind.lower()}"),
            )
            build[kind] = clock.run(f"{size}: load {kind}", load_index, index, chunks, stack)
            indexes[kind] = index
        only = set(sources) if large else None
        build["db_s"] = clock.run(f"{size}: database rows", load_db, chunks, gen, only)
        del chunks

        n = args.queries_large if large else args.queries
        n_recall = args.recall_queries_large if large else args.recall_queries
        n_tag = n
        counts = {t: n for t in TYPES}
        records = clock.run(
            f"{size}: latency",
            latency,
            engine,
            current,
            indexes,
            viewer,
            pool[:n],
            tags,
            tagged,
            sources[:n],
            args.warmup,
            counts,
            vectors,
        )
        if large and db_parts is not None:
            borrow_parts(records, db_parts)
        elif not large:
            db_parts = {k: [r for r in v if r["index"] == "HNSW"] for k, v in records.items()}
        recall = clock.run(
            f"{size}: recall",
            measure_recall,
            truth,
            indexes,
            bank,
            engine,
            vectors,
            pool[:n_recall],
            tags,
            sources[:n_recall],
            min(n_recall, 2 * n_tag),
        )
        results["sizes"][size] = {
            "large": large,
            "appearance_dim": dim,
            "build": build,
            "segments": {
                k: sk.segment_sizes(VAR / "milvus", i.collection) for k, i in indexes.items()
            },
            "records": records,
            "recall": recall,
            "borrowed": bool(large and db_parts is not None),
            "counts": counts,
        }
        if si == 0 and args.clients:
            results["http"] = clock.run(
                f"{size}: http",
                http_throughput,
                stack,
                indexes,
                token,
                pool[: args.queries],
                sources[: args.queries],
                args,
            )
        sk.dump_json(VAR / "results.json", results | {"partial": True})  # survive a later crash
        for index in indexes.values():  # free the server's memory before the next size
            index.drop()
            index.close()

    results["phases"] = clock.phases
    results["wall_s"] = time.perf_counter() - t_start
    sk.dump_json(VAR / "results.json", results)
    report(results, cfg)
    return 0


def hnsw_config(cfg) -> str:
    return (
        f"M={cfg.milvus_hnsw_m}, efConstruction={cfg.milvus_hnsw_ef_construction}, "
        f"ef={cfg.milvus_hnsw_ef}, "
        + (
            f"exact scoring at most {cfg.milvus_exact_below} rows"
            if cfg.milvus_exact_below
            else "exact scoring off"
        )
    )


def image_sources(truth: sk.Truth, n: int, seed: int) -> list[int]:
    """Items the viewer may see, to "find similar" from."""
    import numpy as np

    visible = np.flatnonzero(truth.mask(sk.VIEWER))
    rng = np.random.default_rng(seed + 100)
    picked = rng.choice(visible, size=min(n, visible.size), replace=False)
    return [int(truth.ids[i]) for i in picked]


def load_index(index: sk.TimedIndex, chunks, stack: Stack) -> dict:
    """Insert, flush, wait until Milvus Lite has built every segment's indexes."""
    from glassbox.clients.milvus.schema import TEXT_FIELDS
    from glassbox.retrieval import lexical

    index.drop()
    index.ensure()
    t0 = time.perf_counter()
    for chunk in chunks:
        sk.insert_rows(index, sk.index_rows(chunk, lexical))
    t1 = time.perf_counter()
    index.flush()
    t2 = time.perf_counter()
    waited = sk.wait_indexed(VAR / "milvus", index.collection)
    t3 = time.perf_counter()
    if index.vocabulary is not None:  # the rows were inserted, not upserted: scan them
        index.vocabulary.build(TEXT_FIELDS, index._text_rows)
    return {
        "insert_s": t1 - t0,
        "flush_s": t2 - t1,
        "index_wait_s": waited,
        "vocabulary_s": time.perf_counter() - t3,
        "total_s": time.perf_counter() - t0,
    }


def load_db(chunks, gen, only) -> float:
    t0 = time.perf_counter()
    for chunk in chunks:
        sk.insert_db(chunk, gen, only)
    return time.perf_counter() - t0


# --- latency ----------------------------------------------------------------------------------


def latency(
    engine, current, indexes, viewer, texts, tags, tagged, sources, warmup, counts, vectors
) -> dict:
    """Records per query type (``counts[type]`` queries each, after ``warmup`` rounds; one
    warm-up round for the slow tag filter); each query runs on every index, alternating the
    order.

    Text queries are measured **cold**: the query-embedding cache (``search.embeddings``) is
    emptied before each, so encode costs a Triton call as it does for a query never seen.
    Right after, the same text query runs again with the cache holding its vectors: the
    ``text-warm`` records. Each engine call is followed by the **bare** Milvus vector search
    of the same vector (the query's, or for image queries the source's appearance vector),
    limit and filter expression: one ``MilvusClient.search``, no engine around it."""
    from glassbox_web import runtime
    from search import embeddings
    from search.params import SearchFilters, SearchOptions
    from search.records import source_from_item

    bank = runtime.concept_bank()

    filters = {
        "text": lambda q: None,
        "filtered": lambda q: SearchOptions(
            SearchFilters(
                kind="image", date_from=sk.FILTER_FROM, date_to=sk.FILTER_TO, flagged=False
            )
        ),
        "mine": lambda q: SearchOptions(SearchFilters(owner="mine")),
        "tag": lambda q: SearchOptions(SearchFilters(tag=tags[q])),
    }
    records: dict[str, list[dict]] = {t: [] for t in (*TYPES, "text-warm")}
    kinds = list(indexes)
    rounds = warmup + max(counts.values())
    for i in range(rounds):
        for qtype in TYPES:
            if (
                not counts[qtype]
                or i - warmup >= counts[qtype]
                or (qtype == "tag" and i < warmup - 1)
            ):
                continue
            order = kinds if i % 2 == 0 else kinds[::-1]
            for kind in order:
                index = indexes[kind]
                current["index"] = index
                index.take()
                timings: dict[str, float] = {}
                t0 = time.perf_counter()
                if qtype == "image":
                    source = source_from_item(viewer, sources[i % len(sources)])
                    t1 = time.perf_counter()
                    page = engine.similar(viewer, source, timings=timings)
                    timings["source"] = (t1 - t0) * 1000
                else:
                    q = tagged[i % len(tagged)] if qtype == "tag" else texts[i % len(texts)]
                    options = filters[qtype](q)
                    embeddings.clear()
                    t0 = time.perf_counter()
                    page = engine.search(viewer, q, options, timings=timings)
                total = (time.perf_counter() - t0) * 1000
                laps, paths = index.take()
                if qtype == "image":
                    bare_vector, field, options = source.appearance, "appearance", None
                else:
                    bare_vector, field = vectors[q], "semantic"
                bare = bare_search(index, bare_vector, field, viewer.pk, options, bank)
                if i < warmup:
                    continue
                records[qtype].append(
                    record(kind, total, timings, laps, paths, page) | {"bare": bare}
                )
                if qtype == "text":  # the same query again: its vectors are cached now
                    timings = {}
                    t0 = time.perf_counter()
                    page = engine.search(viewer, q, options, timings=timings)
                    total = (time.perf_counter() - t0) * 1000
                    laps, paths = index.take()
                    records["text-warm"].append(
                        record(kind, total, timings, laps, paths, page) | {"bare": bare}
                    )
        if i == warmup - 1 or (i + 1) % 10 == 0:
            print(f"    round {i + 1}/{rounds}", flush=True)
    return records


def record(kind: str, total: float, timings: dict, laps: dict, paths: list, page) -> dict:
    """One engine call's measurements."""
    return {
        "index": kind,
        "total": total,
        **timings,
        **{f"m_{k}": laps.get(k, 0.0) for k in MILVUS_PARTS},
        "exact": bool(paths),
        "results": len(page.results),
    }


def bare_search(index, vector, field: str, viewer_id: int, options, bank) -> float:
    """Milliseconds of one plain ``MilvusClient.search`` as the engine's vector channel asks
    it (same vector, field, limit, filter expression and search params), nothing around it."""
    from glassbox.clients.milvus.filters import Filters
    from glassbox.clients.milvus.search import vector_search_params

    f = options.filters.to_index(bank) if options is not None else Filters()
    expr = f.expr(viewer_id)
    client = index._connect()
    data = [[float(x) for x in vector]]
    params = vector_search_params(index.index_type, index.hnsw_ef, WANT, 0)
    t0 = time.perf_counter()
    client.search(
        index.collection,
        data=data,
        anns_field=field,
        filter=expr,
        limit=WANT,
        output_fields=["id"],
        search_params=params,
        timeout=index.timeout,
    )
    return (time.perf_counter() - t0) * 1000


def borrow_parts(records: dict, db_parts: dict) -> None:
    """Sizes without database rows: hydrate and explain from the DB-backed size's queries of
    the same type (cycled); the total is the measured parts plus the borrowed ones."""
    for qtype, rows in records.items():
        donors = db_parts.get(qtype) or []
        if not donors:
            continue
        for j, r in enumerate(rows):
            d = donors[j % len(donors)]
            r["total"] += (d["hydrate"] - r["hydrate"]) + (d["explain"] - r["explain"])
            r["hydrate"], r["explain"], r["results"] = d["hydrate"], d["explain"], d["results"]


# --- recall -----------------------------------------------------------------------------------


def measure_recall(truth, indexes, bank, engine, vectors, texts, tags, sources, n_tag) -> dict:
    """Per query type and index: recall@10 and 10@48 against numpy exact search."""
    import numpy as np
    from search.params import SearchFilters

    tagged = [q for q in texts if tags[q]][:n_tag]
    cases = {
        "text": [(vectors[q], None, "semantic") for q in texts],
        "filtered": [
            (
                vectors[q],
                SearchFilters(
                    kind="image", date_from=sk.FILTER_FROM, date_to=sk.FILTER_TO, flagged=False
                ),
                "semantic",
            )
            for q in texts
        ],
        "mine": [(vectors[q], SearchFilters(owner="mine"), "semantic") for q in texts],
        "tag": [(vectors[q], SearchFilters(tag=tags[q]), "semantic") for q in tagged],
        "image": [
            (truth.appearance[np.searchsorted(truth.ids, s)], None, "appearance") for s in sources
        ],
    }
    out: dict = {}
    for qtype, items in cases.items():
        rows: dict[str, dict[str, list]] = {
            k: {"r10": [], "c48": [], "kept": [], "exact": []} for k in indexes
        }
        for vector, search_filters, field in items:
            f = search_filters.to_index(bank) if search_filters else None
            mask = truth.mask(sk.VIEWER, f)
            exact = truth.top(vector, mask, 10, field)
            if not exact:
                continue
            for kind, index in indexes.items():
                index.take()
                hits = [h.id for h in index.search(vector, WANT, sk.VIEWER, f, field)]
                _, paths = index.take()
                want = set(exact)
                rows[kind]["r10"].append(len(want & set(hits[:10])) / len(want))
                rows[kind]["c48"].append(len(want & set(hits)) / len(want))
                rows[kind]["kept"].append(int(mask.sum()))
                rows[kind]["exact"].append(bool(paths))
        out[qtype] = rows
    return out


# --- HTTP -------------------------------------------------------------------------------------


def http_throughput(stack, indexes, token, texts, sources, args) -> list[dict]:
    """Queries per second through gunicorn, per index in ``--http-index``."""
    out = []
    for kind in args.http_index:
        for cache in args.http_cache:
            if kind in indexes:
                out += http_one(stack, indexes[kind], token, texts, sources, args, cache)
    return out


def http_one(stack, index, token, texts, sources, args, cache: str = "on") -> list[dict]:
    """Closed loop: each client sends its next request when the previous one is answered."""
    import requests

    env = {
        "GLASSBOX_MILVUS_COLLECTION": index.collection,
        "GLASSBOX_MILVUS_INDEX": index.index_type,
        "GLASSBOX_DATABASE_URL": os.environ["GLASSBOX_DATABASE_URL"],
        "GLASSBOX_SECRET_KEY": "bench-only",
        "GLASSBOX_MILVUS_TIMEOUT_S": "600",
    }
    if cache == "off":
        env["GLASSBOX_SEARCH_EMBEDDING_CACHE"] = "0"
    if args.http_threads:
        env["GLASSBOX_WEB_THREADS"] = str(args.http_threads)
    svc = stack.web(env)
    threads = svc.argv[svc.argv.index("--threads") + 1] if "--threads" in svc.argv else "1"
    svc.argv[svc.argv.index("--workers") + 1] = str(args.http_workers)
    base = f"http://127.0.0.1:{stack.ports.web}/api/v1/search/"
    filt = {
        "kind": "image",
        "from": sk.FILTER_FROM.isoformat(),
        "to": sk.FILTER_TO.isoformat(),
        "flagged": "false",
    }
    workloads = {
        "text": lambda i: base + "?" + urllib.parse.urlencode({"q": texts[i % len(texts)]}),
        "filtered": lambda i: (
            base + "?" + urllib.parse.urlencode({"q": texts[i % len(texts)], **filt})
        ),
        "image": lambda i: f"{base}similar/{sources[i % len(sources)]}/",
    }
    headers = {"Authorization": f"Token {token}"}
    out = []
    start(svc)
    try:
        for name, url in workloads.items():
            with requests.Session() as s:  # warm both workers (imports, clients, caches)
                for i in range(4):
                    r = s.get(url(i), headers=headers, timeout=600)
                    r.raise_for_status()
            for clients in args.clients:
                out.append(
                    {
                        "index": index.index_type,
                        "workload": name,
                        "clients": clients,
                        "cache": cache,
                        "threads": int(threads),
                        **closed_loop(url, headers, clients, args.http_seconds),
                    }
                )
                print(
                    f"    http {index.index_type} cache {cache} {name} x{clients}: "
                    f"{out[-1]['qps']:.1f} q/s",
                    flush=True,
                )
    finally:
        stop(svc)
    return out


def closed_loop(url, headers, clients: int, seconds: float) -> dict:
    import requests

    lock = threading.Lock()
    latencies: list[float] = []
    errors: list[str] = []
    counter = [0]
    t_end = time.perf_counter() + seconds

    def client(cid: int) -> None:
        with requests.Session() as s:
            while time.perf_counter() < t_end:
                with lock:
                    i = counter[0]
                    counter[0] += 1
                t0 = time.perf_counter()
                try:
                    r = s.get(url(i), headers=headers, timeout=600)
                    ok = r.status_code == 200
                    err = "" if ok else f"HTTP {r.status_code}"
                except requests.RequestException as exc:
                    ok, err = False, type(exc).__name__
                with lock:
                    if ok:
                        latencies.append((time.perf_counter() - t0) * 1000)
                    else:
                        errors.append(err)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0  # includes the requests in flight at the deadline
    return {
        "load": os.getloadavg()[0],  # 1-minute load average at the end (2 cores)
        "qps": len(latencies) / wall,
        "ok": len(latencies),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "wall_s": wall,
        "p50": sk.pct(latencies, 50),
        "p95": sk.pct(latencies, 95),
        "p99": sk.pct(latencies, 99),
    }


# --- report -----------------------------------------------------------------------------------


def ppp(values) -> str:
    values = list(values)
    return " / ".join(sk.fmt(sk.pct(values, q)) for q in (50, 95, 99))


def report(results: dict, cfg) -> None:
    sizes = results["sizes"]
    print(f"\n\n# Search benchmark\n\n{sk.machine_line()}; configured index: {hnsw_config(cfg)}.")
    print("Milvus Lite server (milvus-lite, one process) and Triton (CPU) on loopback, SQLite.\n")

    print("## Corpus and index build\n")
    rows = []
    for size, s in sizes.items():
        for kind, b in s["build"].items():
            if kind == "db_s":
                continue
            seg = s["segments"][kind]
            rows.append(
                [
                    f"{int(size):,}",
                    kind,
                    s["appearance_dim"],
                    len(seg),
                    f"{min(seg):,} / {sorted(seg)[len(seg) // 2]:,} / {max(seg):,}" if seg else "–",
                    sk.fmt(b["insert_s"], 0),
                    sk.fmt(b["flush_s"], 0),
                    sk.fmt(b["index_wait_s"], 0),
                    sk.fmt(b.get("vocabulary_s", float("nan")), 1),
                    sk.fmt(b["total_s"], 0),
                ]
            )
        rows.append(
            [
                f"{int(size):,}",
                "SQLite rows",
                "",
                "",
                "",
                sk.fmt(s["build"]["db_s"], 0),
                "",
                "",
                "",
                "",
            ]
        )
    print(
        sk.table(
            [
                "items",
                "index",
                "appearance dim",
                "segments",
                "rows per segment min / median / max",
                "insert s",
                "flush s",
                "index build wait s",
                "word sets s",
                "total s",
            ],
            rows,
        )
    )

    print("\n## Latency by part, ms (p50 / p95 / p99)\n")
    print(
        "Parts as the engine times them; `milvus` is every Milvus call of the query (vector "
        "search, the ids query, exact scoring, BM25 caption + OCR), split in the next table. "
        "Image queries also read the source item (`source`)."
    )
    borrowed = [f"{int(z):,}" for z, s in sizes.items() if s["borrowed"]]
    if borrowed:
        print(
            f"At {', '.join(borrowed)} items there are no database rows: hydrate and explain "
            "(marked *) are the largest DB-backed size's samples; total = measured encode + "
            "milvus + those."
        )
    print()
    rows = []
    for size, s, kind, qtype, rs in record_groups(sizes):
        star = "*" if s["borrowed"] else ""
        rows.append(
            [
                f"{int(size):,}",
                kind,
                qtype,
                len(rs),
                sk.fmt(sum(r["results"] for r in rs) / len(rs)),
                ppp(r["total"] for r in rs),
            ]
            + [ppp(r[p] for r in rs) + (star if p in ("hydrate", "explain") else "") for p in PARTS]
            + [ppp(r.get("source", 0.0) for r in rs) if qtype == "image" else ""]
        )
    print(sk.table(["items", "index", "query", "n", "results", "total", *PARTS, "source"], rows))

    print("\n## The Milvus part split into calls, ms (p50 / p95)\n")
    print(
        "vector: the semantic (and for image queries the appearance) search RPCs; ids: the "
        "query for at most `exact_below` + 1 ids that pass the filter, before each HNSW "
        "search; exact: fetching and scoring those rows when there are few enough, instead "
        "of the HNSW search; bm25: caption + OCR channels.\n"
    )
    rows = []
    for size, _s, kind, qtype, rs in record_groups(sizes):
        rows.append(
            [f"{int(size):,}", kind, qtype, f"{sum(r['exact'] for r in rs)}/{len(rs)}"]
            + [
                " / ".join(sk.fmt(sk.pct([r[f"m_{p}"] for r in rs], q)) for q in (50, 95))
                for p in MILVUS_PARTS
            ]
            + [" / ".join(sk.fmt(sk.pct([r["milvus"] for r in rs], q)) for q in (50, 95))]
        )
    print(sk.table(["items", "index", "query", "exact path", *MILVUS_PARTS, "milvus"], rows))

    print("\n## Recall against exact search (numpy brute force, same rows, same filter)\n")
    print(
        "recall@10: the exact top 10 among the index's first 10; 10@48: among the 48 "
        "candidates the engine asks for and re-scores. Image: the appearance channel.\n"
    )
    rows = []
    for size, s in sizes.items():
        for qtype in TYPES:
            for kind, r in s["recall"][qtype].items():
                if not r["r10"]:
                    continue
                rows.append(
                    [
                        f"{int(size):,}",
                        qtype,
                        kind,
                        len(r["r10"]),
                        f"{sum(r['kept']) / len(r['kept']):,.0f}",
                        f"{sum(r['exact'])}/{len(r['exact'])}",
                        f"{sum(r['r10']) / len(r['r10']):.3f}",
                        f"{min(r['r10']):.1f}",
                        f"{sum(r['c48']) / len(r['c48']):.3f}",
                    ]
                )
    print(
        sk.table(
            [
                "items",
                "query",
                "index",
                "queries",
                "rows the filter keeps (mean)",
                "exact path",
                "recall@10",
                "min recall@10",
                "10@48",
            ],
            rows,
        )
    )

    if results.get("http"):
        first = next(iter(sizes))
        threads = results["http"][0].get("threads", 1)
        print(
            f"\n## Throughput over HTTP ({int(first):,} items, gunicorn "
            f"{results['config']['http_workers']} workers x {threads} threads on loopback)\n"
        )
        print(
            "Closed loop: each client sends its next request when the previous one is "
            "answered; a GET /api/v1/search/ (text, filtered) or /api/v1/search/similar/<id>/ "
            "(image), DRF token auth, JSON with explanations. cache on: the clients cycle "
            "through the query texts, so after the first pass every text query's vectors are "
            "cached (warm); off: every query is encoded (cold).\n"
        )
        rows = [
            [
                h.get("index", "HNSW"),
                h.get("cache", "–"),
                h["workload"],
                h["clients"],
                f"{h['qps']:.2f}",
                h["ok"],
                h["errors"],
                ppp_http(h),
                f"{h['load']:.1f}" if "load" in h else "–",
            ]
            for h in results["http"]
        ]
        print(
            sk.table(
                [
                    "index",
                    "cache",
                    "workload",
                    "clients",
                    "queries/s",
                    "answered",
                    "errors",
                    "latency ms p50 / p95 / p99",
                    "load average",
                ],
                rows,
            )
        )

    warm_and_bare(sizes)

    print("\n## Ratios (p50 ratio / p95 ratio)\n")
    rows = []
    for size, s in sizes.items():
        rec = s["records"]
        kinds = sorted({r["index"] for rs in rec.values() for r in rs})
        for kind in kinds:

            def sel(qtype, kind=kind, rec=rec):
                return [r for r in rec[qtype] if r["index"] == kind]

            for num, den in (
                ("filtered", "text"),
                ("mine", "text"),
                ("tag", "text"),
                ("image", "text"),
            ):
                rows.append(ratio_row(f"{int(size):,}", f"{num} / {den}", kind, sel(num), sel(den)))
        if "HNSW" in kinds and "FLAT" in kinds:
            for qtype in TYPES:
                h = [r for r in rec[qtype] if r["index"] == "HNSW"]
                f = [r for r in rec[qtype] if r["index"] == "FLAT"]
                rows.append(ratio_row(f"{int(size):,}", f"HNSW / FLAT ({qtype})", "", h, f))
    prev = None
    for size, s in sizes.items():
        if prev is not None:
            for qtype in TYPES:
                a = [r for r in s["records"][qtype] if r["index"] == "FLAT"] or [
                    r for r in s["records"][qtype]
                ]
                b = [r for r in sizes[prev]["records"][qtype] if r["index"] == "FLAT"] or [
                    r for r in sizes[prev]["records"][qtype]
                ]
                label = f"{int(size):,} / {int(prev):,}"
                rows.append(ratio_row(label, f"size ({qtype}, FLAT)", "", a, b))
        prev = size
    print(sk.table(["items", "ratio", "index", "total", "milvus"], rows))

    notes(sizes)

    print("\n## Run time\n")
    print(
        sk.table(
            ["phase", "s"],
            [[name, f"{s:.0f}"] for name, s in results.get("phases", [])]
            + [["whole run (with service start/stop)", f"{results.get('wall_s', 0):.0f}"]],
        )
    )
    print(f"\nRaw numbers: {VAR / 'results.json'}")


def warm_and_bare(sizes: dict) -> None:
    """The cache's effect (cold against warm text queries) and the engine's call against the
    bare Milvus vector search of the same vector, limit and filter."""
    warm_rows, bare_rows = [], []
    for size, s in sizes.items():
        rec = s["records"]
        for kind in sorted({r["index"] for rs in rec.values() for r in rs}):
            cold = [r for r in rec["text"] if r["index"] == kind]
            warm = [r for r in rec.get("text-warm", []) if r["index"] == kind]
            if cold and warm:
                warm_rows.append(
                    [f"{int(size):,}", kind, len(cold)]
                    + [ppp(r["total"] for r in rs) for rs in (cold, warm)]
                    + [
                        " / ".join(
                            sk.fmt(sk.pct([r["encode"] for r in rs], 50)) for rs in (cold, warm)
                        )
                    ]
                )
            for qtype in (*TYPES, "text-warm"):
                rs = [r for r in rec.get(qtype, []) if r["index"] == kind and "bare" in r]
                if not rs:
                    continue
                e95, b95 = sk.pct([r["total"] for r in rs], 95), sk.pct([r["bare"] for r in rs], 95)
                bare_rows.append(
                    [
                        f"{int(size):,}",
                        kind,
                        qtype,
                        ppp(r["total"] for r in rs),
                        ppp(r["bare"] for r in rs),
                        f"{e95 / b95:.2f}x" if b95 > 0 else "–",
                    ]
                )
    if warm_rows:
        print("\n## Query-embedding cache: text queries cold and warm, ms (p50 / p95 / p99)\n")
        print(
            "cold: the cache emptied before the query (a text never seen); warm: the same "
            "query again right after, its vectors cached.\n"
        )
        print(
            sk.table(
                ["items", "index", "n", "cold total", "warm total", "encode p50 cold / warm"],
                warm_rows,
            )
        )
    if bare_rows:
        print(
            "\n## The engine's call against the bare Milvus vector search, ms (p50 / p95 / p99)\n"
        )
        print(
            "bare: one `MilvusClient.search` of the same vector (the query's; image: the "
            "source's appearance vector), limit 48, filter expression and search params, right "
            "after the engine's call on the same index. Goal: engine p95 <= 1.5x bare p95.\n"
        )
        print(
            sk.table(
                ["items", "index", "query", "engine total", "bare vector search", "p95 ratio"],
                bare_rows,
            )
        )


def notes(sizes: dict) -> None:
    """Per-row costs that explain the tables."""
    print("\n## Notes\n")
    for size, s in sizes.items():
        rec = s["records"]
        kinds = sorted({r["index"] for rs in rec.values() for r in rs})
        for kind in kinds:
            tag = [r for r in rec["tag"] if r["index"] == kind]
            text = [r for r in rec["text"] if r["index"] == kind]
            if tag and text:
                extra = sk.pct([r["milvus"] for r in tag], 50) - sk.pct(
                    [r["milvus"] for r in text], 50
                )
                print(
                    f"- {int(size):,} items, {kind}: the tag filter (`tag_ids like`) changes "
                    f"the Milvus part by {extra:+,.0f} ms p50 against the unfiltered text query."
                )
        for kind in kinds:
            ids = [
                r["m_ids"]
                for qt in ("text", "filtered", "mine", "tag")
                for r in rec[qt]
                if r["index"] == kind and r.get("m_ids", 0) > 0
            ]
            if ids:
                print(
                    f"- {int(size):,} items, {kind}: the ids query before each HNSW search "
                    f"(at most {int(s.get('exact_below', 2000)) + 1} ids: does the filter keep "
                    f"few enough rows to score exactly?) takes {sk.fmt(sk.pct(ids, 50))} ms p50, "
                    f"{sk.fmt(sk.pct(ids, 95))} ms p95."
                )


def ppp_http(h: dict) -> str:
    return " / ".join(sk.fmt(h[k]) for k in ("p50", "p95", "p99"))


def record_groups(sizes: dict):
    """``(size, its results, index, query type, records)`` for each non-empty group."""
    for size, s in sizes.items():
        for kind in sorted({r["index"] for rs in s["records"].values() for r in rs}):
            for qtype in TYPES:
                rs = [r for r in s["records"][qtype] if r["index"] == kind]
                if rs:
                    yield size, s, kind, qtype, rs


def ratio_row(items: str, label: str, kind: str, a: list[dict], b: list[dict]) -> list[str]:
    """A row of the ratio table: ``a`` over ``b`` in total time and in Milvus time."""
    return [items, label, kind, ratio(a, b, "total"), ratio(a, b, "milvus")]


def ratio(a: list[dict], b: list[dict], key: str) -> str:
    if not a or not b:
        return "–"
    pa = [sk.pct([r[key] for r in a], q) for q in (50, 95)]
    pb = [sk.pct([r[key] for r in b], q) for q in (50, 95)]
    return " / ".join(f"{x / y:.2f}x" if y > 0 else "–" for x, y in zip(pa, pb, strict=True))


if __name__ == "__main__":
    sys.exit(main())
