"""Before and after, in one run: ``bench/ingest.py`` on an older commit and on this checkout.

The older commit is checked out as a git worktree under ``build/compare/`` (its code, its
Triton models, its workers), with this checkout's environments and model weights linked in
(they are ignored files; the weights are the same packages' files). Then, for each round, the
ingest benchmark's worker table runs on the old tree and on the new one, one after the other,
so that the machine's load hits both alike; the script prints each run's tables and a last
table side by side: images/s, the models' own compute per image, and the ratios.

``PYTHONPATH`` points every process of a run (the benchmark, the Celery worker, Triton's
Python stubs) at that tree's ``services`` and ``web``, ahead of the environments' editable
install of this checkout.

Run:  .venv/bin/python bench/compare.py --old a2ee304 [--new HEAD] [--rounds 1] [--images 24]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
INGEST = HERE / "bench" / "ingest.py"
LINKED = (".venv", ".venv-models")


def git(*args: str, cwd: Path = HERE) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def worktree(rev: str) -> Path:
    """A detached worktree of ``rev`` under build/compare/, with the environments and the
    ignored model files of this checkout linked in."""
    sha = git("rev-parse", "--verify", f"{rev}^{{commit}}")
    tree = HERE / "build" / "compare" / sha[:12]
    if not (tree / ".git").exists():
        tree.parent.mkdir(parents=True, exist_ok=True)
        git("worktree", "add", "--detach", "--force", str(tree), sha)
    for name in LINKED:
        link = tree / name
        if not link.exists():
            link.symlink_to(HERE / name, target_is_directory=True)
    ignored = git(
        "ls-files", "--others", "--ignored", "--exclude-standard", "--directory", "model_repository"
    )
    for rel in filter(None, ignored.splitlines()):
        src, dst = HERE / rel.rstrip("/"), tree / rel.rstrip("/")
        if dst.exists() or dst.is_symlink() or not dst.parent.exists():
            continue  # a model the old commit does not have stays absent
        dst.symlink_to(src, target_is_directory=src.is_dir())
    return tree


def run_ingest(tree: Path, label: str, passed: list[str]) -> dict:
    """One worker-table run of this checkout's bench/ingest.py against ``tree``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ingest.json"
        paths = [str(tree / "services"), str(tree / "web"), str(tree / "infra")]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
        argv = [sys.executable, str(INGEST), "--repo", str(tree), "--worker-only"]
        argv += ["--json", str(out), *passed]
        print(f"\n## {label}: {tree} ({git('log', '-1', '--format=%h %s', cwd=tree)[:90]})")
        sys.stdout.flush()
        subprocess.run(argv, env=env, check=True)
        return json.loads(out.read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--old", required=True, help="the commit measured as 'before'")
    ap.add_argument("--new", help="the commit measured as 'after' (default: this checkout)")
    ap.add_argument("--rounds", type=int, default=1, help="old, new alternations")
    args, passed = ap.parse_known_args()
    trees = {"before": worktree(args.old), "after": worktree(args.new) if args.new else HERE}
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    for k in range(args.rounds):
        for label, tree in trees.items():
            runs[label].append(run_ingest(tree, f"{label}, round {k + 1}", passed))
    print(
        f"\n### Before ({git('log', '-1', '--format=%h', cwd=trees['before'])}) and after "
        f"({git('log', '-1', '--format=%h', cwd=trees['after'])}), the same run, "
        f"{args.rounds} round(s) alternating, median images/s\n"
    )
    print(
        "| configuration | before images/s | after images/s | after / before | "
        "before Triton ms per image | after Triton ms per image | after: end to end / models |"
    )
    print("|---|---|---|---|---|---|---|")
    for i, row in enumerate(runs["before"][0]["worker"]):
        name = row["configuration"]
        after_rows = [r["worker"][i] for r in runs["after"] if i < len(r["worker"])]
        if not after_rows or after_rows[0]["configuration"] != name:
            continue
        before = [r["worker"][i] for r in runs["before"]]
        b_ips = statistics.median(r["ips"] for r in before)
        a_ips = statistics.median(r["ips"] for r in after_rows)
        b_ms = statistics.median(r["model_ms"] for r in before)
        a_ms = statistics.median(r["model_ms"] for r in after_rows)
        print(
            f"| {name} | {b_ips:.2f} | {a_ips:.2f} | {a_ips / b_ips:.2f}x | {b_ms:.0f} | "
            f"{a_ms:.0f} | {a_ips * a_ms / 1000:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
