"""A worker pool per stage, everywhere it is deployed: the queues of CELERY_TASK_ROUTES are
the launcher's pools, compose's worker services and the Kubernetes Deployments, each with a
KEDA ScaledObject on its own Redis list.

The Kubernetes objects are validated against the Kubernetes schemas that the
``kubernetes-validate`` package ships (strict: unknown fields fail). No package ships KEDA's
schema, so the ScaledObjects are checked against the part of its CRD they use (written out
below from keda.sh's ScaledObject and Redis-lists scaler specifications) and cross-checked
against the Deployments, the ConfigMap and the routes.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml
from django.conf import settings
from glassbox_launch import stack as launcher

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "infra" / "k8s"

SCALED_OBJECT = {  # keda.sh/v1alpha1 ScaledObject, the fields Glassbox uses
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "kind": {"type": "string"},
                        "apiVersion": {"type": "string"},
                    },
                },
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["type", "metadata"],
                        "properties": {
                            "type": {"const": "redis"},
                            "metadata": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["address", "listName", "listLength"],
                                "properties": {  # KEDA reads every value as a string
                                    "address": {"type": "string", "pattern": r"^[\w.-]+:\d+$"},
                                    "databaseIndex": {"type": "string", "pattern": r"^\d+$"},
                                    "listName": {"type": "string"},
                                    "listLength": {"type": "string", "pattern": r"^[1-9]\d*$"},
                                    "activationListLength": {"type": "string", "pattern": r"^\d+$"},
                                    "enableTLS": {"enum": ["true", "false"]},
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def queues() -> list[str]:
    names: list[str] = []
    for route in settings.CELERY_TASK_ROUTES.values():
        if route["queue"] not in names:
            names.append(route["queue"])
    return names


def manifests() -> list[dict]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in manifests() if d["kind"] == kind}


def worker_queue(command: list[str]) -> list[str]:
    assert command[:4] == ["celery", "-A", "glassbox_web", "worker"], command
    return command[command.index("-Q") + 1].split(",")


# each pool's queues, in the order its workers read them (the first is the pool's own)
POOL_QUEUES = {"analyze": ["analyze", "reprocess"], "index": ["index"]}


def test_the_launchers_pools_are_the_routed_queues():
    assert {p: list(q) for p, q in launcher.POOL_QUEUES.items()} == POOL_QUEUES
    assert list(launcher.POOLS) == list(POOL_QUEUES)
    assert sorted(launcher.ALL_QUEUES) == sorted(queues())  # every routed queue is read
    assert set(queues()) >= {"analyze", "index", "reprocess"}


def test_reprocessing_waits_behind_new_uploads():
    # kombu's Redis transport then BRPOPs a worker's queues in the order of its -Q
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["queue_order_strategy"] == "priority"
    assert settings.CELERY_TASK_ROUTES["media.reprocess"] == {"queue": "reprocess"}
    assert settings.CELERY_TASK_ROUTES["media.analyze"] == {"queue": "analyze"}


@pytest.mark.parametrize("doc", manifests(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_each_kubernetes_object_is_valid(doc):
    if doc["kind"] == "ScaledObject":
        jsonschema.validate(doc, SCALED_OBJECT)
    else:
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_the_schema_validation_catches_a_wrong_field():
    deployment = dict(by_kind("Deployment")["worker-analyze"])
    deployment["spec"] = {**deployment["spec"], "replica": 2}  # a typo of `replicas`
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(), strict=True)
    scaled = by_kind("ScaledObject")["worker-analyze"]
    bad = {**scaled, "spec": {**scaled["spec"], "triggers": [{"type": "redis", "metadata": {}}]}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCALED_OBJECT)


def test_one_deployment_per_pool_each_scaled_by_keda_on_its_own_list():
    deployments, scaled = by_kind("Deployment"), by_kind("ScaledObject")
    config = by_kind("ConfigMap")["glassbox-config"]["data"]
    redis = urlsplit(config["GLASSBOX_REDIS_URL"])
    workers = {
        n: d for n, d in deployments.items() if d["metadata"]["labels"].get("component") == "worker"
    }
    assert set(workers) == {f"worker-{p}" for p in POOL_QUEUES}
    for pool, pool_queues in POOL_QUEUES.items():
        name = f"worker-{pool}"
        container = workers[name]["spec"]["template"]["spec"]["containers"][0]
        assert worker_queue(container["command"]) == pool_queues
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        assert env["PROMETHEUS_MULTIPROC_DIR"] and env["GLASSBOX_WORKER_METRICS_PORT"] == "9808"
        mounts = {m["mountPath"] for m in container["volumeMounts"]}
        assert env["PROMETHEUS_MULTIPROC_DIR"] in mounts  # an emptyDir of its own
        assert {"configMapRef": {"name": "glassbox-config"}} in container["envFrom"]
        spec = scaled[name]["spec"]
        assert spec["scaleTargetRef"]["name"] == name
        assert spec["minReplicaCount"] >= 1 and spec["maxReplicaCount"] > spec["minReplicaCount"]
        assert [t["metadata"]["listName"] for t in spec["triggers"]] == pool_queues
        for trigger in spec["triggers"]:
            assert trigger["metadata"]["address"] == f"{redis.hostname}:{redis.port}"
            assert trigger["metadata"].get("databaseIndex", "0") == redis.path.strip("/")


def test_no_horizontal_pod_autoscaler_fights_keda():
    scaled_targets = {d["spec"]["scaleTargetRef"]["name"] for d in by_kind("ScaledObject").values()}
    for hpa in by_kind("HorizontalPodAutoscaler").values():
        assert hpa["spec"]["scaleTargetRef"]["name"] not in scaled_targets


def test_the_web_deployment_writes_its_metrics_to_a_folder_of_its_own():
    container = by_kind("Deployment")["web"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert env["PROMETHEUS_MULTIPROC_DIR"] in {m["mountPath"] for m in container["volumeMounts"]}


# --------------------------------------------------------------------------- compose


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]


def test_compose_has_one_scalable_service_per_pool():
    services = compose()
    workers = {n for n, s in services.items() if "worker" in (s.get("command") or [])}
    assert workers == {f"worker-{p}" for p in POOL_QUEUES}
    for pool, pool_queues in POOL_QUEUES.items():
        svc = services[f"worker-{pool}"]
        assert "container_name" not in svc and "ports" not in svc  # `--scale` works
        assert worker_queue(svc["command"]) == pool_queues
        env = svc["environment"]
        assert env["GLASSBOX_WORKER_METRICS_PORT"] == "9808"
        assert env["PROMETHEUS_MULTIPROC_DIR"] in svc["tmpfs"]
        assert env["GLASSBOX_POOL"] == pool and f"--hostname={pool}@%h" in svc["command"]
    web = services["web"]
    assert web["environment"]["PROMETHEUS_MULTIPROC_DIR"] in web["tmpfs"]


def test_prometheus_finds_every_replica_of_every_pool():
    config = yaml.safe_load((REPO / "infra/monitoring/prometheus.yml").read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "glassbox-workers")
    (sd,) = job["dns_sd_configs"]
    assert set(sd["names"]) == {f"worker-{p}" for p in POOL_QUEUES}
    assert sd["type"] == "A" and sd["port"] == 9808


def test_the_launchers_pools_each_get_their_queue_metrics_folder_and_port(tmp_path):
    stack = launcher.Stack(var_dir=tmp_path, ports=launcher.TEST_PORTS)
    pools = stack.pools({"GLASSBOX_DATABASE_URL": "postgres://x"}, environ={})
    assert [svc.name for svc in pools] == [f"worker-{p}" for p in POOL_QUEUES]
    for n, svc in enumerate(pools):
        assert Path(svc.argv[0]).name == "celery"
        assert worker_queue(["celery", *svc.argv[1:]]) == list(POOL_QUEUES.values())[n]
        assert svc.env["GLASSBOX_WORKER_METRICS_PORT"] == str(launcher.TEST_PORTS.web + 11 + n)
        assert svc.env["PROMETHEUS_MULTIPROC_DIR"] == str(stack.metrics_dir(svc.name))
        assert svc.env["GLASSBOX_DATABASE_URL"] == "postgres://x"
    moved = stack.pools(environ={"GLASSBOX_POOL_METRICS_PORT": "17391"})
    assert [svc.env["GLASSBOX_WORKER_METRICS_PORT"] for svc in moved] == ["17391", "17392"]


def test_a_worker_given_another_workers_environment_keeps_its_own_folder_and_port(tmp_path):
    stack = launcher.Stack(var_dir=tmp_path, ports=launcher.TEST_PORTS)
    first = stack.worker(name="worker-a", metrics_port=17391)
    second = stack.worker(extra_env=first.env, name="worker-b")
    assert second.env["PROMETHEUS_MULTIPROC_DIR"] == str(stack.metrics_dir("worker-b"))
    assert "GLASSBOX_WORKER_METRICS_PORT" not in second.env
    folder = stack.metrics_dir("worker-b")
    folder.mkdir(parents=True)
    (folder / "counter_123.db").write_bytes(b"stale")
    second.prepare()  # what start() runs before a fresh start
    assert folder.is_dir() and not any(folder.iterdir())
