"""infra/monitoring/: the Prometheus configuration, the alert rules and the Grafana dashboard.

Validated with the real ``promtool`` (Debian's ``prometheus`` package, installed by
``infra/bin/setup --test``): ``check config``, ``check rules``, ``test rules`` on
alerts_test.yml (the alerts fire on the series they should, and only on those), and the
dashboard's every query parsed by ``check rules`` as recording rules. Structurally: every
series a rule or a panel reads is one the code exports (``ops.metrics.METRIC_NAMES``) or one
Triton or Prometheus itself exports, and the issue's alerts are all there.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from ops import metrics

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "infra" / "monitoring"
# Triton's own families (its /metrics, port 8002) that the dashboard reads, and Prometheus's
TRITON_METRICS = {
    "nv_inference_count",
    "nv_inference_exec_count",
    "nv_inference_request_success",
    "nv_inference_queue_duration_us",
    "nv_inference_compute_infer_duration_us",
}
PROMETHEUS_METRICS = {"up"}
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "by", "without", "rate", "increase", "irate",
    "histogram_quantile", "or", "and", "unless", "on", "ignoring", "group_left", "absent",
    "le", "offset", "bool",
}  # fmt: skip


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool is missing: run `infra/bin/setup --test` (Debian package prometheus; "
            "or `apt-get install -y --no-install-recommends prometheus`)",
            pytrace=False,
        )
    return path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=60)


def series_read(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (labels, strings and functions left out)."""
    expr = re.sub(r'"[^"]*"', '""', expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr))
    return {n for n in names if n not in PROMQL_WORDS}


def exported(name: str) -> bool:
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return (
        name in metrics.METRIC_NAMES
        or base in metrics.METRIC_NAMES
        or name in TRITON_METRICS
        or name in PROMETHEUS_METRICS
    )


def test_the_series_reader_finds_names_and_skips_the_rest():
    expr = 'sum by (queue) (rate(glassbox_tasks_total{outcome="failed", queue=~"a|b"}[5m])) > 0.05'
    assert series_read(expr) == {"glassbox_tasks_total"}
    assert not exported("glassbox_made_up_total") and exported(
        "glassbox_task_duration_seconds_bucket"
    )


# --------------------------------------------------------------------------- Prometheus


def test_promtool_accepts_the_configuration_with_its_rules(tmp_path):
    for name in ("prometheus.yml", "alerts.yml"):
        shutil.copy(MONITORING / name, tmp_path / name)
    (tmp_path / "glassbox_metrics_token").write_text("a-token-for-validation\n")
    result = run("check", "config", "prometheus.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_job_scrapes_what_the_deployment_serves():
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"glassbox-web", "glassbox-workers", "triton", "milvus"}
    assert jobs["triton"]["static_configs"][0]["targets"] == ["triton:8002"]
    assert jobs["glassbox-web"]["static_configs"][0]["targets"] == ["web:8000"]
    for name in ("glassbox-web", "glassbox-workers"):  # /metrics wants the scraper's token
        assert jobs[name]["metrics_path"] == "/metrics"
        assert jobs[name]["authorization"]["type"] == "Bearer"
        assert jobs[name]["authorization"]["credentials_file"] == "glassbox_metrics_token"
    assert config["rule_files"] == ["alerts.yml"]
    ignored = (MONITORING / ".gitignore").read_text().split()
    assert "glassbox_metrics_token" in ignored  # the token file is never committed


def alert_rules() -> dict[str, dict]:
    groups = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def test_promtool_checks_the_rules_and_their_unit_tests_pass():
    checked = run("check", "rules", "alerts.yml", cwd=MONITORING)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = run("test", "rules", "alerts_test.yml", cwd=MONITORING)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_the_unit_tests_cover_every_alert():
    cases = yaml.safe_load((MONITORING / "alerts_test.yml").read_text())["tests"]
    fired = {t["alertname"] for case in cases for t in case["alert_rule_test"] if t["exp_alerts"]}
    assert fired == set(alert_rules())


def test_the_issues_alerts_are_there_with_their_thresholds():
    rules = alert_rules()
    stalled = rules["GlassboxQueueStalled"]["expr"]
    assert "glassbox_queue_oldest_age_seconds" in stalled and re.search(r">\s*300\b", stalled)
    failing = rules["GlassboxFailureRateHigh"]["expr"]
    assert 'outcome="failed"' in failing and re.search(r">\s*0\.05\b", failing)
    for alert, dependency in (
        ("TritonDown", "triton"),
        ("MilvusDown", "milvus"),
        ("RedisDown", "redis"),
    ):
        assert f'dependency="{dependency}"' in rules[alert]["expr"], alert
    assert 'up{job="triton"}' in rules["TritonDown"]["expr"]
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in ("warning", "critical"), name
        assert rule["annotations"]["summary"], name


def test_every_series_a_rule_reads_is_exported():
    for name, rule in alert_rules().items():
        unknown = {s for s in series_read(rule["expr"]) if not exported(s)}
        assert not unknown, f"{name} reads {unknown}, which nothing exports"


# --------------------------------------------------------------------------- Grafana


def grafana() -> dict:
    return json.loads((MONITORING / "grafana" / "glassbox.json").read_text())


def test_the_grafana_dashboard_is_well_formed_and_laid_out_without_overlap():
    board = grafana()
    assert board["uid"] and board["title"] and board["panels"]
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        g = panel["gridPos"]
        assert 0 <= g["x"] and g["x"] + g["w"] <= 24, panel["title"]
        mine = {
            (x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])
        }
        assert not mine & cells, f"{panel['title']} overlaps another panel"
        cells |= mine
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"], panel["title"]


def test_every_panel_query_parses_and_reads_exported_series(tmp_path):
    exprs = [t["expr"] for p in grafana()["panels"] for t in p["targets"]]
    for expr in exprs:
        unknown = {s for s in series_read(expr) if not exported(s)}
        assert not unknown, f"{expr!r} reads {unknown}, which nothing exports"
    # promtool parses PromQL in rule files: the panels' queries as recording rules
    rules = {
        "groups": [
            {
                "name": "grafana-panels",
                "rules": [{"record": f"panel:query_{n}", "expr": e} for n, e in enumerate(exprs)],
            }
        ]
    }
    (tmp_path / "panels.yml").write_text(yaml.safe_dump(rules))
    result = run("check", "rules", "panels.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_shows_the_issues_figures():
    exprs = " ".join(t["expr"] for p in grafana()["panels"] for t in p["targets"])
    for name in (
        "glassbox_queue_depth",
        "glassbox_queue_oldest_age_seconds",
        "glassbox_items_finished_total",
        "glassbox_task_duration_seconds_bucket",
        "glassbox_workers_online",
        "nv_inference_queue_duration_us",
        "nv_inference_exec_count",
    ):
        assert name in exprs, name
