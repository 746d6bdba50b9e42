"""Start, check and stop local service processes, idempotently.

Each service has a pid file and a log file under ``<var>/run`` and ``<var>/log``. Starting a
service that is already running (its pid is alive and it answers its readiness check) does
nothing; starting one whose port is held by some other process fails with a message that
names the port and the setting to change. Readiness always has a deadline: a Triton whose
python stub cannot load hangs instead of failing, so waiting forever is never an option.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


class LaunchError(RuntimeError):
    """A service could not be started; the message says why and what to do."""


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something listens on ``host:port``.

    A port in the ephemeral range with no listener can still "accept" a probe: Linux may pick
    the probed port as the probe's own source port, and the socket then connects to itself
    (TCP simultaneous open). That is not a listener, so it counts as free.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.3)
        if sock.connect_ex((host, port)) != 0:
            return False
        try:
            return sock.getsockname() != sock.getpeername()
        except OSError:
            return False


def http_ok(url: str, timeout: float = 1.0, accept_any_status: bool = False) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback only)
            return resp.status == 200 or accept_any_status
    except urllib.error.HTTPError:
        return accept_any_status
    except (OSError, ValueError):
        return False


def redis_ping(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still "exists"; treat it as dead
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


@dataclass
class Service:
    name: str
    argv: list[str]
    ports: list[int]
    ready: Callable[[], bool]
    run_dir: Path
    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    ready_timeout_s: float = 60.0
    stop_signal: int = signal.SIGTERM
    port_setting: str = ""  # the environment variable that moves this service's port
    prepare: Callable[[], None] | None = None  # run just before a fresh start (not when running)

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start(svc: Service, echo: Callable[[str], None] = print) -> bool:
    """Start ``svc`` unless it already runs. Returns True when this call started it."""
    svc.run_dir.mkdir(parents=True, exist_ok=True)
    svc.log_dir.mkdir(parents=True, exist_ok=True)
    pid = svc.pid()
    if pid is not None:
        if _wait_ready(svc, pid, deadline=time.monotonic() + svc.ready_timeout_s):
            echo(f"  {svc.name:<8} already running (pid {pid})")
            return False
        raise LaunchError(f"{svc.name} (pid {pid}) runs but is not ready; see {svc.log_file}")
    svc.pid_file.unlink(missing_ok=True)
    for port in svc.ports:
        if port_in_use(port):
            hint = f" Set {svc.port_setting} to use another port." if svc.port_setting else ""
            raise LaunchError(
                f"port {port} is taken by another process, so {svc.name} cannot start.{hint}"
            )
    if svc.prepare is not None:
        svc.prepare()
    env = {**os.environ, **svc.env}
    with open(svc.log_file, "ab") as log:
        log.write(
            f"\n--- start {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(svc.argv)}\n".encode()
        )
        log.flush()
        proc = subprocess.Popen(  # noqa: S603 (argv is built by the launcher, not user input)
            svc.argv,
            cwd=svc.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    svc.pid_file.write_text(str(proc.pid))
    started = time.monotonic()
    if not _wait_ready(svc, proc.pid, deadline=started + svc.ready_timeout_s, proc=proc):
        stop(svc, echo=lambda _msg: None)
        raise LaunchError(
            f"{svc.name} did not become ready within {svc.ready_timeout_s:.0f} s.\n"
            f"Last lines of {svc.log_file}:\n{svc.log_tail()}"
        )
    echo(f"  {svc.name:<8} ready in {time.monotonic() - started:.1f} s (pid {proc.pid})")
    return True


def _wait_ready(svc: Service, pid: int, deadline: float, proc=None) -> bool:
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        if proc is None and not pid_alive(pid):
            return False
        if svc.ready():
            return True
        time.sleep(0.2)
    return False


def stop(svc: Service, timeout_s: float = 15.0, echo: Callable[[str], None] = print) -> bool:
    """Stop ``svc`` (its whole process group). Returns True when something was stopped."""
    pid = svc.pid()
    if pid is None:
        svc.pid_file.unlink(missing_ok=True)
        return False
    _signal_group(pid, svc.stop_signal)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and pid_alive(pid):
        time.sleep(0.1)
    if pid_alive(pid):
        _signal_group(pid, signal.SIGKILL)
        time.sleep(0.2)
    _reap(pid)
    # The pid looks dead as soon as the main thread is a zombie, but the sockets close only
    # when the process's last thread has exited; under load that can take a moment, and a
    # restart in that moment found its own port "taken". So wait for the ports too.
    deadline = time.monotonic() + 5.0
    while any(port_in_use(p) for p in svc.ports) and time.monotonic() < deadline:
        time.sleep(0.05)
    svc.pid_file.unlink(missing_ok=True)
    echo(f"  {svc.name:<8} stopped")
    return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(os.getpgid(pid), sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
