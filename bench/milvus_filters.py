"""What each search filter costs in the Milvus Lite server, per call, as the corpus grows.

``glassbox.clients.milvus.filters.Filters.expr`` turns the user's filters into one boolean
expression. Milvus Lite evaluates an expression with pyarrow kernels, except when it holds an
array function (``array_contains_any``, the tag filter): then the whole expression is evaluated
row by row in Python, after converting every row of every segment, vectors included, to Python
objects.
This measures one semantic-search call (48 hits, the engine's request) per filter form, on a
FLAT collection of each size (so the vector search itself is the same for every row):

- privacy: ``(owner_id == v or is_public == true)``, what every search carries;
- date+flag: privacy and ``created`` range and ``flagged == false`` and ``kind``;
- tag (array, before v3): privacy and ``array_contains_any`` over an ``ARRAY<INT64>`` of the
  tag ids, the form schema v2 used (the bench adds that field to the app's schema);
- tag (like, v3): ``Filters(tags=...).expr``, ``like "% id %"`` on the ``tag_ids`` VARCHAR
  (`` 12 345 1095 ``), what the app runs now; both tag forms must return the same hits;
- ids <= exact_below + 1: the ids query ``MediaIndex.search`` runs before an HNSW search (so a
  filter that keeps few rows is scored exactly), for the privacy rule alone and for owner=mine;
- count(*): a count with the privacy + date filter, the form this replaced.

Run:  .venv/bin/python bench/milvus_filters.py [--sizes 2000,10000,50000] [--calls 10]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time

import numpy as np
import searchkit as sk
from glassbox_launch.process import start, stop
from glassbox_launch.stack import Ports, Stack

PORTS = Ports(redis=26393, triton=28140, milvus=28570, web=28040)
VAR = sk.REPO / "var" / "bench-filters"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="2000,10000,50000")
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--appearance-dim", type=int, default=1280)
    args = ap.parse_args()
    shutil.rmtree(VAR, ignore_errors=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the services on kill too
    stack = Stack(var_dir=VAR, ports=PORTS)
    svc = stack.milvus()
    start(svc)
    try:
        rows = [measure(stack, int(s), args) for s in args.sizes.split(",")]
    finally:
        stop(svc)
    forms = list(rows[0][1])
    print("\n# Milvus Lite: one search call (48 hits) per filter form, ms p50 / p95\n")
    print(
        f"{sk.machine_line()}; FLAT collections, appearance {args.appearance_dim}-d, "
        f"{args.calls} calls per cell.\n"
    )
    print(sk.table(["items", *forms], [[f"{n:,}", *(c[f] for f in forms)] for n, c in rows]))
    (n0, c0), (n1, c1) = rows[0], rows[-1]
    growth = ", ".join(
        f"{f} {p50(c1[f]) / p50(c0[f]):.1f}x" for f in forms if not f.startswith("same")
    )
    print(f"\nGrowth of p50 from {n0:,} to {n1:,} items ({n1 / n0:.0f}x): {growth}")
    return 0


def p50(cell: str) -> float:
    return float(cell.split(" / ")[0].replace(",", ""))


def measure(stack: Stack, size: int, args) -> tuple[int, dict[str, str]]:
    from glassbox.clients.milvus.client import MediaIndex
    from glassbox.clients.milvus.filters import Filters
    from glassbox.concepts import ConceptBank
    from glassbox.config import get_settings
    from glassbox.retrieval import lexical

    class WithTagArray(MediaIndex):
        """The app's schema plus the ARRAY<INT64> tag field it used before schema v3, so both
        tag forms are measured on the same rows."""

        def _schema(self):
            from pymilvus import DataType

            schema = super()._schema()
            schema.add_field(
                "tags_array", DataType.ARRAY, element_type=DataType.INT64, max_capacity=64
            )
            return schema

        def _row(self, row):
            return {**super()._row(row), "tags_array": [int(t) for t in row.tags][:64]}

    bank = ConceptBank.load(get_settings().concept_bank_path)
    gen = sk.Generator(bank, args.appearance_dim, seed=3)
    index = WithTagArray(
        stack.app_env()["GLASSBOX_MILVUS_URI"],
        f"filters_{size}",
        index_type="FLAT",
        appearance_dim=args.appearance_dim,
        timeout=3600,
    )
    index.ensure()
    chunks = list(gen.chunks(size))
    for chunk in chunks:
        sk.insert_rows(index, sk.index_rows(chunk, lexical))
    index.flush()
    sk.wait_indexed(VAR / "milvus", index.collection)
    truth = sk.truth_from(chunks)
    rng = np.random.default_rng(0)
    vectors = truth.semantic[rng.integers(0, size, args.calls)]
    dog = tuple(bank.find("dog"))
    privacy = Filters().expr(sk.VIEWER)
    dated = Filters(kind="image", created_from=sk.CREATED_TO - 365 * 86400, flagged=False)
    wanted = ", ".join(str(t) for t in dog)
    forms = {
        "privacy": privacy,
        "date+flag": dated.expr(sk.VIEWER),
        "tag (array, before v3)": f"{privacy} and array_contains_any(tags_array, [{wanted}])",
        "tag (like, v3)": Filters(tags=dog).expr(sk.VIEWER),
    }
    client = index._connect()

    def timed(fn) -> str:
        lat = []
        for i in range(args.calls):
            t0 = time.perf_counter()
            fn(i)
            lat.append((time.perf_counter() - t0) * 1000)
        return f"{sk.fmt(sk.pct(lat, 50))} / {sk.fmt(sk.pct(lat, 95))}"

    def search(expr: str, i: int = 0) -> list[int]:
        hits = client.search(
            index.collection,
            data=[vectors[i].tolist()],
            anns_field="semantic",
            filter=expr,
            limit=48,
            output_fields=["id"],
            search_params={"metric_type": "IP"},
            timeout=3600,
        )
        return [h["id"] for h in hits[0]]

    out: dict[str, str] = {}
    for name, expr in forms.items():
        out[name] = timed(lambda i, e=expr: search(e, i))
        print(f"  {size:,} {name}: {out[name]} ms", flush=True)
    # what MediaIndex.search runs before an HNSW search: the ids that pass, at most
    # exact_below + 1 of them (a filter that keeps more stops early)
    for name, f in (("privacy", Filters()), ("mine", Filters(owner="mine"))):
        key = f"ids <= {index.exact_below + 1} ({name})"
        expr = f.expr(sk.VIEWER)
        out[key] = timed(lambda _i, e=expr: index._ids_if_few(e))
        print(f"  {size:,} {key}: {out[key]} ms", flush=True)
    out["count(*) (date+flag)"] = timed(lambda _i: index.count(dated.expr(sk.VIEWER)))
    same = search(forms["tag (array, before v3)"]) == search(forms["tag (like, v3)"])
    print(f"  {size:,}: array and like forms return the same hits: {same}", flush=True)
    out["same hits (array vs like)"] = str(same)
    index.drop()
    index.close()
    return size, out


if __name__ == "__main__":
    sys.exit(main())
