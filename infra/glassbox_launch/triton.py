"""Run Triton from the ``nvidia-pytriton`` wheel in ``.venv-models`` (stdlib only).

This module runs in the app's environment; everything about the models' interpreter is asked
from that interpreter in a subprocess. The recipe (server root, stub, library path) is the one
in MODELS.md: a server root holding the python backend plus the stub built for the models'
Python version, ``LD_LIBRARY_PATH`` = the wheel's bundled libraries + that Python's libdir (or
the stub loads another libpython and hangs), and the models' ``bin`` first on ``PATH``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
STUB_NAME = "triton_python_backend_stub"

_PROBE = """
import json, sys, sysconfig
print(json.dumps({
    "purelib": sysconfig.get_paths()["purelib"],
    "libdir": sysconfig.get_config_var("LIBDIR"),
    "version": "%d.%d" % sys.version_info[:2],
}))
"""


class TritonSetupError(RuntimeError):
    """The models' environment or the pytriton wheel is missing or incomplete."""


def models_python() -> Path:
    """The interpreter of the models' environment, where the python backend stub runs."""
    return REPO_ROOT / ".venv-models" / "bin" / "python"


@lru_cache(maxsize=4)
def _probe(python: Path) -> dict[str, str]:
    if not python.exists():
        raise TritonSetupError(f"{python} not found: create .venv-models (infra/bin/setup)")
    out = subprocess.run(
        [str(python), "-c", _PROBE], check=True, capture_output=True, text=True, timeout=60
    )
    return json.loads(out.stdout)


def _wheel_dir(python: Path) -> Path:
    server = Path(_probe(python)["purelib"]) / "pytriton" / "tritonserver"
    if not (server / "bin" / "tritonserver").is_file():
        raise TritonSetupError(f"{server}/bin/tritonserver missing: install nvidia-pytriton==0.7.0")
    return server


def _sync_file(src: Path, dst: Path) -> None:
    """Copy when missing or changed; replace atomically so a running server keeps its inode."""
    if dst.is_file():
        a, b = src.stat(), dst.stat()
        if a.st_size == b.st_size and int(a.st_mtime) == int(b.st_mtime):
            return
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def _sync_tree(src: Path, dst: Path) -> None:
    for path in src.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            _sync_file(path, dst / path.relative_to(src))


def build_server_root(build_dir: Path, python: Path | None = None) -> Path:
    """Create (or bring up to date) ``build_dir/triton-root`` and return it.

    Safe to call while another server runs from the same root: unchanged files are left
    alone. Layout: ``backends/python/`` (the wheel's python backend + the stub for the models'
    Python), ``caches/`` (copied) and ``bin`` (a link to the wheel's ``bin``).
    """
    python = python or models_python()
    info = _probe(python)
    wheel = _wheel_dir(python)
    stub = wheel / "python_backend_stubs" / info["version"] / STUB_NAME
    if not stub.is_file():
        raise TritonSetupError(f"nvidia-pytriton has no python backend stub for {info['version']}")

    root = Path(build_dir) / "triton-root"
    backend = root / "backends" / "python"
    _sync_tree(wheel / "backends" / "python", backend)
    _sync_file(stub, backend / STUB_NAME)
    _sync_tree(wheel / "caches", root / "caches")
    bin_link = root / "bin"
    if not (bin_link.is_symlink() and bin_link.resolve() == (wheel / "bin").resolve()):
        if bin_link.is_symlink() or bin_link.exists():
            bin_link.unlink()
        bin_link.symlink_to(wheel / "bin", target_is_directory=True)
    return root


def triton_command(
    repo: Path,
    root: Path,
    http_port: int,
    grpc_port: int,
    metrics_port: int,
    python: Path | None = None,
) -> tuple[list[str], dict[str, str]]:
    """argv and environment to start ``tritonserver`` on loopback with the given ports."""
    python = python or models_python()
    info = _probe(python)
    wheel = _wheel_dir(python)
    libs = [str(wheel.parents[1] / "nvidia_pytriton.libs"), info["libdir"]]
    env = dict(os.environ)
    env.pop("PYTHONHOME", None)
    if env.get("LD_LIBRARY_PATH"):
        libs.append(env["LD_LIBRARY_PATH"])
    env.update(
        LD_LIBRARY_PATH=os.pathsep.join(libs),
        PATH=os.pathsep.join([str(python.parent), env.get("PATH", "/usr/bin:/bin")]),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
    )
    argv = [
        str(Path(root) / "bin" / "tritonserver"),
        f"--model-repository={Path(repo)}",
        f"--backend-directory={Path(root) / 'backends'}",
        f"--cache-directory={Path(root) / 'caches'}",
        "--http-address=127.0.0.1",
        f"--http-port={http_port}",
        "--grpc-address=127.0.0.1",
        f"--grpc-port={grpc_port}",
        "--metrics-address=127.0.0.1",
        f"--metrics-port={metrics_port}",
        "--allow-gpu-metrics=false",
        "--pinned-memory-pool-byte-size=0",
        "--exit-on-error=true",
        "--strict-readiness=true",
    ]
    return argv, env
