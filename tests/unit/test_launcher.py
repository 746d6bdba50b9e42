"""The local launcher: idempotent starts, a clear error for a taken port, clean stops."""

from __future__ import annotations

import socket
import sys

import pytest
from glassbox_launch.process import LaunchError, Service, port_in_use, start, stop


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def http_service(tmp_path):
    port = free_port()
    svc = Service(
        name="tiny",
        argv=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        ports=[port],
        ready=lambda: port_in_use(port),
        run_dir=tmp_path / "run",
        log_dir=tmp_path / "log",
        ready_timeout_s=15,
        port_setting="GLASSBOX_TINY_PORT",
    )
    yield svc
    stop(svc, echo=lambda _m: None)


def test_starting_twice_reuses_the_running_service(http_service):
    assert start(http_service, echo=lambda _m: None) is True
    pid = http_service.pid()
    assert start(http_service, echo=lambda _m: None) is False
    assert http_service.pid() == pid


def test_a_port_taken_by_another_program_is_named_with_the_setting_that_moves_it(http_service):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", http_service.ports[0]))
        squatter.listen()
        with pytest.raises(
            LaunchError,
            match=rf"port {http_service.ports[0]} is taken.*"
            r"GLASSBOX_TINY_PORT",
        ):
            start(http_service, echo=lambda _m: None)
    assert http_service.pid() is None


def test_stop_ends_the_process_and_forgets_its_pid(http_service):
    # Under load this failed in CI: the main thread was a zombie (so the pid looked dead) while
    # the server's other threads still held its socket. stop() now waits for the ports.
    start(http_service, echo=lambda _m: None)
    assert stop(http_service, echo=lambda _m: None) is True
    assert http_service.pid() is None and not http_service.pid_file.exists()
    assert not port_in_use(http_service.ports[0])
    assert stop(http_service, echo=lambda _m: None) is False


def test_a_service_that_never_gets_ready_fails_with_its_log_and_leaves_nothing_running(tmp_path):
    svc = Service(
        name="sleeper",
        argv=[
            sys.executable,
            "-c",
            "import time; print('stuck loading', flush=True); time.sleep(60)",
        ],
        ports=[],
        ready=lambda: False,
        run_dir=tmp_path / "run",
        log_dir=tmp_path / "log",
        ready_timeout_s=1.5,
    )
    with pytest.raises(LaunchError, match="(?s)did not become ready.*\nstuck loading"):
        start(svc, echo=lambda _m: None)
    assert svc.pid() is None


def test_a_probe_that_connects_to_itself_does_not_count_as_a_listener(monkeypatch):
    """Linux can hand a probe of a free ephemeral port that same port as its source port; the
    probe then connects to itself, and a free port would look taken. Force it: bind every
    probe to the port it probes."""
    port = free_port()
    real_socket = socket.socket

    class SelfBound(real_socket):
        def connect_ex(self, address):
            self.bind(("127.0.0.1", port))
            return super().connect_ex(address)

    monkeypatch.setattr("glassbox_launch.process.socket.socket", SelfBound)
    probe_connected = []
    original = SelfBound.connect_ex

    def spy(self, address):
        rc = original(self, address)
        probe_connected.append(rc)
        return rc

    monkeypatch.setattr(SelfBound, "connect_ex", spy)
    assert port_in_use(port) is False
    assert probe_connected == [0], "the probe should have connected to itself"
