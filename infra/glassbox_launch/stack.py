"""The local stack: Redis, Milvus Lite server, Triton, Celery workers and the web server.

Used by the demo (``make demo``) and by the test session (tests/conftest.py), with different
ports and state folders so that both can run at once. Ports can be moved with the
``GLASSBOX_*_PORT`` variables listed in the README.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from glassbox_launch import triton as triton_paths
from glassbox_launch.process import Service, http_ok, port_in_use, redis_ping

REPO = Path(__file__).resolve().parents[2]
APP_BIN = REPO / ".venv" / "bin"


@dataclass(frozen=True)
class Ports:
    redis: int
    triton: int  # HTTP; gRPC and metrics use the next two ports
    milvus: int
    web: int

    @classmethod
    def from_env(cls, default: Ports, environ=os.environ) -> Ports:
        def pick(name: str, fallback: int) -> int:
            raw = environ.get(f"GLASSBOX_{name.upper()}_PORT")
            return int(raw) if raw else fallback

        return cls(
            redis=pick("redis", default.redis),
            triton=pick("triton", default.triton),
            milvus=pick("milvus", default.milvus),
            web=pick("web", default.web),
        )


DEMO_PORTS = Ports(redis=6380, triton=8100, milvus=19540, web=8000)
TEST_PORTS = Ports(redis=16380, triton=18100, milvus=18530, web=18000)

# One worker pool per stage, each on its own queue: the queues of CELERY_TASK_ROUTES
# (web/glassbox_web/settings.py; tests/unit/test_monitoring_deploy.py keeps them equal). The
# analyze pool also reads "reprocess", after "analyze" (queue_order_strategy "priority"), so
# new uploads go before reprocessing.
POOL_QUEUES = {"analyze": ("analyze", "reprocess"), "index": ("index",)}
POOLS = tuple(POOL_QUEUES)
ALL_QUEUES = tuple(q for queues in POOL_QUEUES.values() for q in queues)
# a pool's own /metrics listens on the web port + this + its place in POOLS (demo: 8011, 8012)
POOL_METRICS_OFFSET = 11


@dataclass(frozen=True)
class Stack:
    var_dir: Path
    ports: Ports

    @property
    def run_dir(self) -> Path:
        return self.var_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.var_dir / "log"

    def app_env(self) -> dict[str, str]:
        """What the web process and the workers need to find the services."""
        return {
            "GLASSBOX_VAR_DIR": str(self.var_dir),
            "GLASSBOX_REDIS_URL": f"redis://127.0.0.1:{self.ports.redis}/0",
            "GLASSBOX_TRITON_URL": f"127.0.0.1:{self.ports.triton}",
            "GLASSBOX_MILVUS_URI": f"http://127.0.0.1:{self.ports.milvus}",
        }

    def _service(
        self, name: str, argv: list[str], ports: list[int], ready, ready_timeout_s: float, **kw
    ) -> Service:
        """A service of this stack: its pid and log files under the stack's state folder."""
        where = {"run_dir": self.run_dir, "log_dir": self.log_dir}
        return Service(name, argv, ports, ready, ready_timeout_s=ready_timeout_s, **where, **kw)

    def redis(self) -> Service:
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError(
                "redis-server is not installed. Run: sudo apt-get install -y redis-server"
            )
        data = self.var_dir / "redis"
        data.mkdir(parents=True, exist_ok=True)
        port = self.ports.redis
        argv = [binary, *_flags(bind="127.0.0.1", port=port, dir=data, save="", appendonly="yes")]
        argv += ["--protected-mode", "yes"]
        ready = partial(redis_ping, port)
        return self._service("redis", argv, [port], ready, 10, port_setting="GLASSBOX_REDIS_PORT")

    def milvus(self) -> Service:
        port = self.ports.milvus
        argv = [str(APP_BIN / "milvus-lite"), "server"]
        argv += _flags(data_dir=self.var_dir / "milvus", host="127.0.0.1", port=port)
        ready = partial(port_in_use, port)
        return self._service("milvus", argv, [port], ready, 60, port_setting="GLASSBOX_MILVUS_PORT")

    def triton(self) -> Service:
        http = self.ports.triton
        root = triton_paths.build_server_root(REPO / "build")
        argv, env = triton_paths.triton_command(model_repository(), root, http, http + 1, http + 2)
        # One intra-op thread per model instance: on a small machine the two model processes
        # and the workers otherwise oversubscribe the cores (bench/ingest.py measured 4-8x
        # slower inference with torch's default of one thread per core).
        env.setdefault("GLASSBOX_TORCH_THREADS", os.environ.get("GLASSBOX_TORCH_THREADS", "1"))
        return self._service(
            "triton",
            argv,
            [http, http + 1, http + 2],
            lambda: http_ok(f"http://127.0.0.1:{http}/v2/health/ready"),
            env=env,
            ready_timeout_s=180,
            port_setting="GLASSBOX_TRITON_PORT",
        )

    def worker(
        self,
        extra_env: dict[str, str] | None = None,
        concurrency: int = 1,
        queues: tuple[str, ...] = ALL_QUEUES,
        name: str = "worker",
        metrics_port: int = 0,
    ) -> Service:
        """A Celery worker on ``queues`` (by default one worker on every queue, as the tests
        use it; :meth:`pools` gives one per stage). Its Prometheus files go to a folder of its
        own, emptied before it starts; ``metrics_port`` > 0 serves them (with the token)."""
        log = self.log_dir / f"{name}.log"
        offset = log.stat().st_size if log.exists() else 0

        def ready() -> bool:
            try:
                with open(log, "rb") as fh:
                    fh.seek(offset)
                    return b" ready." in fh.read()
            except OSError:
                return False

        node = f"glassbox-{self.ports.web}" if name == "worker" else f"{name}-{self.ports.web}"
        metrics_dir = self.metrics_dir(name)
        # its own metrics folder and port, even when handed another worker's environment
        env = {**self.app_env(), **(extra_env or {}), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        env.pop("GLASSBOX_WORKER_METRICS_PORT", None)
        if metrics_port:
            env["GLASSBOX_WORKER_METRICS_PORT"] = str(metrics_port)
        return self._service(
            name,
            [
                str(APP_BIN / "celery"),
                "-A",
                "glassbox_web",
                "worker",
                "-Q",
                ",".join(queues),
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "INFO",
                "--hostname",
                f"{node}@%h",
            ],
            [],
            ready,
            env=env,
            cwd=REPO / "web",
            ready_timeout_s=60,
            prepare=partial(_empty_dir, metrics_dir),
        )

    def pools(self, extra_env: dict[str, str] | None = None, environ=os.environ) -> list[Service]:
        """One worker per stage (``worker-analyze``, ``worker-index``), as deployed; their
        metrics ports start at ``GLASSBOX_POOL_METRICS_PORT`` (default: web port + 11)."""
        raw = environ.get("GLASSBOX_POOL_METRICS_PORT")
        first = int(raw) if raw else self.ports.web + POOL_METRICS_OFFSET
        return [
            self.worker(
                extra_env, queues=POOL_QUEUES[pool], name=f"worker-{pool}", metrics_port=first + n
            )
            for n, pool in enumerate(POOLS)
        ]

    def metrics_dir(self, name: str) -> Path:
        """``PROMETHEUS_MULTIPROC_DIR`` of one service (its processes' counter files)."""
        return self.run_dir / "metrics" / name

    def maintainer(self, extra_env: dict[str, str] | None = None) -> Service:
        """``manage.py maintain``: the outbox's dispatcher, the reaper and the reconciler."""
        log = self.log_dir / "maintainer.log"
        offset = log.stat().st_size if log.exists() else 0

        def ready() -> bool:
            try:
                with open(log, "rb") as fh:
                    fh.seek(offset)
                    return b"maintainer ready" in fh.read()
            except OSError:
                return False

        return self._service(
            "maintainer",
            [python_for_app(), "manage.py", "maintain"],
            [],
            ready,
            env={**self.app_env(), **(extra_env or {})},
            cwd=REPO / "web",
            ready_timeout_s=60,
        )

    def web(self, extra_env: dict[str, str] | None = None) -> Service:
        port = self.ports.web
        metrics_dir = self.metrics_dir("web")
        env = {**self.app_env(), **(extra_env or {}), "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        return self._service(
            "web",
            [
                str(APP_BIN / "gunicorn"),
                "glassbox_web.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                # gthread: a worker's threads overlap its requests' waits on Triton, Milvus
                # and the database (two sync workers left the CPUs idle between calls)
                "--threads",
                env.get("GLASSBOX_WEB_THREADS") or os.environ.get("GLASSBOX_WEB_THREADS") or "4",
                "--timeout",
                "120",
                "--access-logfile",
                "-",
            ],
            [port],
            lambda: http_ok(f"http://127.0.0.1:{port}/api/v1/health/", accept_any_status=True),
            env=env,
            cwd=REPO / "web",
            ready_timeout_s=60,
            port_setting="GLASSBOX_WEB_PORT",
            stop_signal=signal.SIGTERM,
            prepare=partial(_empty_dir, metrics_dir),
        )


def model_repository(environ=os.environ) -> Path:
    """The Triton repository of ``GLASSBOX_PROFILE``: ``model_repository/`` (offline, the
    default) or ``model_repository_clip/`` (clip, docs/clip-profile.md)."""
    from glassbox.profiles import repository_for  # stdlib only: imports no model code

    return repository_for(environ.get("GLASSBOX_PROFILE"), REPO)


def test_stack() -> Stack:
    """The test session's stack: test ports, state in ``GLASSBOX_TEST_VAR_DIR`` or var/test."""
    var = os.environ.get("GLASSBOX_TEST_VAR_DIR") or REPO / "var" / "test"
    return Stack(var_dir=Path(var).resolve(), ports=Ports.from_env(TEST_PORTS))


def python_for_app() -> str:
    return str(APP_BIN / "python") if (APP_BIN / "python").exists() else sys.executable


def _empty_dir(path: Path) -> None:
    """A fresh multiprocess folder: counters of an earlier run must not add to this one's."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)


def _flags(**options: object) -> list[str]:
    """``--name value`` pairs in the given order (``data_dir`` becomes ``--data-dir``)."""
    return [part for k, v in options.items() for part in (f"--{k.replace('_', '-')}", str(v))]
