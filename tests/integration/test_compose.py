"""docker-compose.yml is valid and keeps the deployment's promises (docs/deployment.md).

Validation uses the real ``docker-compose config -q`` (Debian package ``docker-compose``,
installed by ``infra/bin/setup --test``); no Docker daemon is needed. The structural checks
read the file with PyYAML.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
MIN_COMPOSE = (1, 28)  # deploy.resources.reservations.devices (GPU reservations)

# the variables the file refuses to run without (${VAR:?...}); dummies for validation only
REQUIRED_SECRETS = ("GLASSBOX_SECRET_KEY", "GLASSBOX_POSTGRES_PASSWORD", "GLASSBOX_MINIO_PASSWORD")
DUMMY_ENV = {name: "dummy-value-for-validation" for name in REQUIRED_SECRETS}

POOLS = ("worker-analyze", "worker-index")  # one worker pool per queue (docs/deployment.md)
SERVICES = {
    "web",
    *POOLS,
    "maintainer",
    "migrate",
    "redis",
    "postgres",
    "triton",
    "triton-models",
    "milvus",
    "etcd",
    "minio",
}
LONG_RUNNING_WITH_HEALTHCHECK = {
    "web",
    *POOLS,
    "redis",
    "postgres",
    "triton",
    "milvus",
    "etcd",
    "minio",
}
ONE_SHOT = {"migrate", "triton-models"}


# --------------------------------------------------------------------------- helpers


def _compose_binary() -> str:
    path = shutil.which("docker-compose")
    if path is None:
        pytest.fail(
            "the `docker-compose` binary is missing: run the setup (`infra/bin/setup --test`, "
            "which installs Debian's docker-compose package; or `apt-get install -y "
            "--no-install-recommends docker-compose`)",
            pytrace=False,
        )
    return path


def _run_compose(tmp_path: Path, *args: str, env_overrides: dict[str, str]):
    # An empty --env-file keeps a developer's .env out of the result; GLASSBOX_* variables of
    # the calling shell (infra/bin/test exports some) are dropped for the same reason.
    env_file = tmp_path / "empty.env"
    env_file.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLASSBOX_", "COMPOSE_"))}
    env.update(env_overrides)
    return subprocess.run(
        [_compose_binary(), "--env-file", str(env_file), "-f", str(COMPOSE_FILE), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def compose() -> dict:
    with COMPOSE_FILE.open() as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


# --------------------------------------------------------------------------- docker-compose


def test_docker_compose_is_recent_enough():
    out = subprocess.run(
        [_compose_binary(), "version", "--short"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    match = re.search(r"(\d+)\.(\d+)", out.stdout)
    assert match, out.stdout
    assert (int(match[1]), int(match[2])) >= MIN_COMPOSE, (
        f"docker-compose {out.stdout.strip()} cannot read GPU reservations; need >= 1.28"
    )


def test_config_is_valid_with_the_secrets_set(tmp_path):
    out = _run_compose(tmp_path, "config", "-q", env_overrides=DUMMY_ENV)
    assert out.returncode == 0, f"docker-compose config -q failed:\n{out.stderr}"


@pytest.mark.parametrize("missing", REQUIRED_SECRETS)
def test_config_refuses_to_run_without_a_secret(tmp_path, missing):
    env = {k: v for k, v in DUMMY_ENV.items() if k != missing}
    out = _run_compose(tmp_path, "config", "-q", env_overrides=env)
    assert out.returncode != 0
    assert f"set {missing}" in out.stderr, out.stderr


# --------------------------------------------------------------------------- structure


def test_every_service_is_there(services):
    assert SERVICES <= set(services), sorted(SERVICES - set(services))


@pytest.mark.parametrize("name", POOLS)
def test_worker_is_scalable(services, name):
    worker = services[name]
    assert "container_name" not in worker
    assert "ports" not in worker
    command = worker["command"]
    assert command[:4] == ["celery", "-A", "glassbox_web", "worker"]
    queues = command[command.index("-Q") + 1].split(",")
    # its own queue first; the analyze pool reads reprocess after it (uploads go first)
    expected = {"worker-analyze": ["analyze", "reprocess"], "worker-index": ["index"]}
    assert queues == expected[name]


def test_web_runs_gunicorn_on_the_wsgi_app(services):
    assert services["web"]["command"][:2] == ["gunicorn", "glassbox_web.wsgi:application"]
    assert services["migrate"]["command"][-2:] == ["migrate", "--noinput"]


def test_triton_mounts_the_model_repository_read_only(services):
    triton = services["triton"]
    repo_flags = [a for a in triton["command"] if a.startswith("--model-repository=")]
    assert len(repo_flags) == 1
    repo_path = repo_flags[0].split("=", 1)[1]
    mounts = [v.split(":") for v in triton["volumes"]]
    assert ["model_repository", repo_path, "ro"] in mounts, triton["volumes"]
    # filled from the image by the one-shot service that Triton waits for
    filler = services["triton-models"]
    assert any(v.split(":")[0] == "model_repository" for v in filler["volumes"])
    assert triton["depends_on"]["triton-models"]["condition"] == "service_completed_successfully"


def test_triton_reserves_a_gpu(services):
    devices = services["triton"]["deploy"]["resources"]["reservations"]["devices"]
    assert {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]} in devices


def test_triton_image_is_built_from_the_ngc_server(services):
    for name in ("triton", "triton-models"):
        assert services[name]["build"]["dockerfile"] == "infra/docker/Dockerfile.triton"
    dockerfile = (REPO / "infra/docker/Dockerfile.triton").read_text()
    assert "nvcr.io/nvidia/tritonserver:" in dockerfile
    assert "glassbox.tools.prepare" in dockerfile


def test_local_configs_say_kind_cpu_so_the_gpu_rewrite_applies():
    # Dockerfile.triton rewrites `kind: KIND_CPU` to the GPU kind; a config without it would
    # silently stay on the CPU, so the image build fails on it and so does this test.
    configs = sorted((REPO / "model_repository").glob("*/config.pbtxt"))
    assert {c.parent.name for c in configs} >= {"image_concepts", "text_embedding"}
    for cfg in configs:
        assert "kind: KIND_CPU" in cfg.read_text(), cfg


@pytest.mark.parametrize("name", sorted(LONG_RUNNING_WITH_HEALTHCHECK))
def test_healthchecks_present(services, name):
    check = services[name].get("healthcheck")
    assert check and check.get("test"), f"{name} has no healthcheck"


def test_web_healthcheck_accepts_a_503(services):
    # /api/v1/health/ answers 503 when a dependency is down; that must not kill the web.
    script = services["web"]["healthcheck"]["test"][-1]
    assert "/api/v1/health/" in script and "HTTPError" in script


def test_depends_on_waits_for_health_or_completion(services):
    seen = 0
    for name, svc in services.items():
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on must use the long form"
        for dep, spec in deps.items():
            seen += 1
            assert dep in services, f"{name} depends on unknown {dep}"
            want = "service_completed_successfully" if dep in ONE_SHOT else "service_healthy"
            assert spec.get("condition") == want, f"{name} -> {dep}: {spec}"
            if want == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits on {dep} without one"
    assert seen >= 10
    for dep in ("postgres", "redis", "triton", "milvus", "migrate"):
        for name in ("web", *POOLS):
            assert dep in services[name]["depends_on"], name


def test_all_volumes_are_named_and_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, svc in services.items():
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0] if isinstance(vol, str) else vol.get("source")
            assert source and not source.startswith((".", "/", "~", "$")), (
                f"{name}: {vol} is a bind mount; use a named volume"
            )
            assert source in declared, f"{name}: volume {source} is not declared"
            used.add(source)
    assert declared == used, f"declared but unused: {sorted(declared - used)}"
    assert {"media", "postgres", "milvus", "etcd", "minio"} <= declared
    for name in ("web", *POOLS):
        assert "media:/var/lib/glassbox" in services[name]["volumes"]


def test_no_secret_is_committed():
    text = COMPOSE_FILE.read_text()
    for name in REQUIRED_SECRETS:
        assert re.search(r"\$\{" + name + r":\?", text), f"{name} must be required, not defaulted"
    app_env = yaml.safe_load(text)["services"]["web"]["environment"]
    assert app_env["GLASSBOX_SECRET_KEY"].startswith("${GLASSBOX_SECRET_KEY:?")
    assert app_env["GLASSBOX_MILVUS_URI"] == "http://milvus:19530"


# --------------------------------------------------------------------------- k8s, monitoring


def _docs(path: str) -> list[dict]:
    with (REPO / path).open() as fh:
        return [d for d in yaml.safe_load_all(fh) if d]


def test_kubernetes_manifests():
    kinds = {
        (d["kind"], d["metadata"]["name"])
        for f in sorted((REPO / "infra/k8s").glob("*.yaml"))
        for d in _docs(str(f.relative_to(REPO)))
    }
    for name in ("web", *POOLS, "triton"):
        assert ("Deployment", name) in kinds
    for name in ("web", "triton"):
        assert ("Service", name) in kinds
    for name in POOLS:  # KEDA scales each pool on its queue (tests/unit/test_monitoring_deploy.py)
        assert ("ScaledObject", name) in kinds
    triton = next(d for d in _docs("infra/k8s/triton.yaml") if d["kind"] == "Deployment")
    limits = triton["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == 1


def test_prometheus_scrapes_triton_metrics():
    (config,) = _docs("infra/monitoring/prometheus.yml")
    targets = {
        t
        for job in config["scrape_configs"]
        for sc in job.get("static_configs", [])
        for t in sc["targets"]
    }
    assert "triton:8002" in targets and "web:8000" in targets
