"""``python -m glassbox_launch demo|down|status`` (run with the app's environment).

``demo`` starts Redis, Milvus Lite, Triton, one Celery worker per stage (analyze, index), the
maintainer (outbox, reaper, reconciler: ``manage.py maintain``) and the web server, migrates the
SQLite database, seeds the demo user with sample photos and two videos, prints the URL, the
operators' dashboard, the credentials and how to scrape ``/metrics``,
and waits. Ctrl-C stops everything this command started. Running it again while the stack is
up reuses what runs.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from glassbox_launch.process import LaunchError, Service, start, stop
from glassbox_launch.stack import DEMO_PORTS, REPO, Ports, Stack, python_for_app, test_stack

SAMPLES = [
    Path("/usr/share/darknet/data") / name
    for name in ("dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg", "kite.jpg", "person.jpg")
] + [  # Debian's opencv-doc (installed by infra/bin/setup): a dialogue with cuts, a static camera
    Path("/usr/share/doc/opencv-doc/examples/data") / name for name in ("Megamind.avi", "vtest.avi")
]
DEFAULT_DEMO_PASSWORD = "glassbox-demo"


def demo_stack() -> Stack:
    var = Path(os.environ.get("GLASSBOX_VAR_DIR") or REPO / "var").resolve()
    return Stack(var_dir=var, ports=Ports.from_env(DEMO_PORTS))


def secret_key(stack: Stack) -> str:
    """The demo's secret: from the environment, else generated once into var/ (never in git)."""
    if os.environ.get("GLASSBOX_SECRET_KEY"):
        return os.environ["GLASSBOX_SECRET_KEY"]
    path = stack.var_dir / "secret_key"
    if not path.exists():
        stack.var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


def metrics_token(stack: Stack) -> str:
    """The scraper's token for /metrics: from the environment, else generated once into var/."""
    if os.environ.get("GLASSBOX_METRICS_TOKEN"):
        return os.environ["GLASSBOX_METRICS_TOKEN"]
    path = stack.var_dir / "metrics_token"
    if not path.exists():
        stack.var_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def manage(stack: Stack, env: dict[str, str], *args: str, log_name: str | None = None) -> None:
    """``manage.py args``; with ``log_name`` its log lines (JSON) go to ``<log>/<name>.log``
    instead of the terminal (its own messages still print), and their tail if it fails."""
    argv = [python_for_app(), "manage.py", *args]
    where = {"cwd": REPO / "web", "env": {**os.environ, **env}}
    if log_name is None:
        subprocess.run(argv, check=True, **where)
        return
    stack.log_dir.mkdir(parents=True, exist_ok=True)
    log = stack.log_dir / f"{log_name}.log"
    with open(log, "ab") as fh:
        result = subprocess.run(argv, stderr=fh, **where)
    if result.returncode:
        tail = log.read_text(errors="replace").splitlines()[-15:]
        print("\n".join(tail), file=sys.stderr)
        raise subprocess.CalledProcessError(result.returncode, argv)


def cmd_demo(_args) -> int:
    stack = demo_stack()
    bank = REPO / "model_repository" / "image_concepts" / "1" / "concept_bank.npz"
    if not bank.exists():
        print("The model weights are not prepared. Run `make setup` first.", file=sys.stderr)
        return 2
    password = os.environ.get("GLASSBOX_DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD
    env = {
        **stack.app_env(),
        "GLASSBOX_SECRET_KEY": secret_key(stack),
        "GLASSBOX_DEMO_PASSWORD": password,
        "GLASSBOX_METRICS_TOKEN": metrics_token(stack),
    }
    started: list[Service] = []
    print(f"Starting the Glassbox demo (state in {stack.var_dir})")
    try:
        for svc in (stack.redis(), stack.milvus(), stack.triton()):
            if start(svc):
                started.append(svc)
        manage(stack, env, "migrate", "--noinput", "-v", "0")
        manage(stack, env, "collectstatic", "--noinput", "-v", "0")
        manage(stack, env, "reindex", "--if-outdated")  # a collection from an older Glassbox
        for svc in (*stack.pools(env), stack.maintainer(env), stack.web(env)):
            if start(svc):
                started.append(svc)
        existing = [str(p) for p in SAMPLES if p.exists()]
        manage(stack, env, "seed_demo", *existing, log_name="seed")
    except (LaunchError, FileNotFoundError, subprocess.CalledProcessError) as exc:
        print(f"\nThe demo could not start: {exc}", file=sys.stderr)
        _stop_all(started)
        return 1
    url = f"http://127.0.0.1:{stack.ports.web}/"
    token_file = stack.var_dir / "metrics_token"
    token = (
        "$GLASSBOX_METRICS_TOKEN"
        if os.environ.get("GLASSBOX_METRICS_TOKEN")
        else (f"$(cat {shlex.quote(str(token_file))})")
    )
    print(
        f"\nGlassbox is running at {url}\n"
        f"  log in as  demo / {password}   (admin / {password} for /admin/)\n"
        f"  moderators {url}moderation/   (moderator / {password})\n"
        f"  operators  {url}ops/   (operator / {password})\n"
        f'  metrics    curl -H "Authorization: Bearer {token}" {url}metrics\n'
        f"  logs in    {stack.log_dir}\n"
        "Press Ctrl-C to stop everything this command started."
    )
    stop_now = {"flag": False}

    def _on_signal(_sig, _frame):
        stop_now["flag"] = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    while not stop_now["flag"]:
        for svc in started:
            if svc.pid() is None:
                print(f"\n{svc.name} exited; see {svc.log_file}\n{svc.log_tail(10)}")
                stop_now["flag"] = True
                break
        time.sleep(1)
    print("\nStopping…")
    _stop_all(started)
    return 0


def _stop_all(services: list[Service]) -> None:
    for svc in reversed(services):
        stop(svc)


def _all_services(stack: Stack) -> list[Service]:
    services = [stack.redis(), stack.milvus()]
    try:
        services.append(stack.triton())
    except (FileNotFoundError, OSError):
        pass
    # the single all-queue worker of earlier versions too, so `down` stops one left running
    return [*services, stack.worker(), *stack.pools(), stack.maintainer(), stack.web()]


def cmd_down(_args) -> int:
    stack = demo_stack()
    stopped = [svc.name for svc in reversed(_all_services(stack)) if stop(svc)]
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    return 0


def cmd_env(args) -> int:
    """Print ``export`` lines that point a shell at the test (or demo) stack's services."""
    if args.profile == "test":
        stack = test_stack()
    else:
        stack = demo_stack()
    for key, value in stack.app_env().items():
        print(f"export {key}={shlex.quote(value)}")
    return 0


def cmd_status(_args) -> int:
    stack = demo_stack()
    for svc in _all_services(stack):
        pid = svc.pid()
        state = f"running (pid {pid})" if pid else "stopped"
        print(f"{svc.name:<14} {state}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="glassbox_launch", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="start the whole stack, seed the demo and wait").set_defaults(
        func=cmd_demo
    )
    sub.add_parser("down", help="stop every demo service that runs").set_defaults(func=cmd_down)
    sub.add_parser("status", help="show which demo services run").set_defaults(func=cmd_status)
    env = sub.add_parser("env", help="print export lines for a profile's service addresses")
    env.add_argument("--profile", choices=["demo", "test"], default="demo")
    env.set_defaults(func=cmd_env)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
