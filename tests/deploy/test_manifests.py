"""The compose file and the Kubernetes manifests validate against their published JSON
schemas (vendored in ``schemas/``: the compose-spec project's and the Kubernetes 1.32 strict
schemas of kubernetes-json-schema), every variable they give guahao is a setting that
``tenants/settings.py`` reads, the probes are the app's, and the Grafana dashboard charts the
metrics ``core/metrics.py`` defines."""

from __future__ import annotations

import copy
import gzip
import json
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import jsonschema_rs
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SCHEMAS = Path(__file__).parent / "schemas"
K8S_SCHEMAS = SCHEMAS / "kubernetes-v1.32.2"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"
GUAHAO_SERVICES = ("app", "worker", "migrate")

# kind (and apiVersion) → the vendored schema file
K8S_KINDS = {
    ("apps/v1", "Deployment"): "deployment-apps-v1",
    ("batch/v1", "Job"): "job-batch-v1",
    ("batch/v1", "CronJob"): "cronjob-batch-v1",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "horizontalpodautoscaler-autoscaling-v2",
    ("policy/v1", "PodDisruptionBudget"): "poddisruptionbudget-policy-v1",
    ("v1", "Service"): "service-v1",
    ("networking.k8s.io/v1", "Ingress"): "ingress-networking-v1",
    ("v1", "ConfigMap"): "configmap-v1",
    ("v1", "Secret"): "secret-v1",
    ("v1", "ServiceAccount"): "serviceaccount-v1",
    ("v1", "PersistentVolumeClaim"): "persistentvolumeclaim-v1",
}


@cache
def compose_validator():
    return jsonschema_rs.Draft7Validator(json.loads((SCHEMAS / "compose-spec.json").read_text()))


@cache
def k8s_validator(name: str):
    with gzip.open(K8S_SCHEMAS / f"{name}.json.gz") as f:
        return jsonschema_rs.Draft4Validator(json.load(f))


def errors(validator, doc) -> list[str]:
    return [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(doc)]


def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def k8s_objects() -> list[tuple[str, dict]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                out.append((path.name, doc))
    return out


def setting_names() -> set[str]:
    """The environment variables tenants/settings.py reads."""
    text = (ROOT / "tenants" / "settings.py").read_text()
    names = set(re.findall(r'env(?:\.get)?\(\s*"([A-Z][A-Z0-9_]*)"', text))
    names |= set(re.findall(r'env\["([A-Z][A-Z0-9_]*)"\]', text))
    names |= set(re.findall(r'\(env,\s*"([A-Z][A-Z0-9_]*)"', text))
    names |= set(re.findall(r'"([A-Z][A-Z0-9_]*)" in env', text))
    return names


# --- schemas --------------------------------------------------------------------------------


def test_the_compose_file_is_valid_compose_spec():
    assert errors(compose_validator(), compose()) == []


def test_the_compose_schema_check_finds_mistakes():
    broken = copy.deepcopy(compose())
    broken["services"]["nginx"]["ports"] = "443:443"  # a list
    broken["services"]["worker"]["restart_policy"] = "always"  # not a service key
    found = errors(compose_validator(), broken)
    assert any(e.startswith("services/nginx/ports") for e in found) and any("restart_policy" in e for e in found), found


@pytest.mark.parametrize("name,doc", k8s_objects(), ids=lambda v: v if isinstance(v, str) else v.get("kind", ""))
def test_every_kubernetes_object_is_valid_for_its_kind(name, doc):
    schema = K8S_KINDS.get((doc.get("apiVersion"), doc.get("kind")))
    assert schema, f"{name}: no vendored schema for {doc.get('apiVersion')} {doc.get('kind')}"
    assert errors(k8s_validator(schema), doc) == [], name


def test_the_kubernetes_schema_check_finds_mistakes():
    deployment = next(d for _, d in k8s_objects() if d["kind"] == "Deployment")
    broken = copy.deepcopy(deployment)
    broken["spec"]["replicas"] = "3"
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/readyz"
    found = errors(k8s_validator("deployment-apps-v1"), broken)
    assert any("replicas" in e for e in found) and any("paht" in e for e in found), found


def test_the_kustomization_lists_every_manifest_but_the_per_release_job():
    listed = set(yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"])
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == files - {"migrate-job.yaml"}


# --- what the manifests ask of the app --------------------------------------------------------


def compose_env() -> dict[str, set[str]]:
    services = compose()["services"]
    return {name: set(services[name].get("environment", {})) for name in GUAHAO_SERVICES}


def k8s_env() -> dict[str, set[str]]:
    """Per guahao container: the variables it gets (its env and the ConfigMaps/Secrets it loads)."""
    objects = k8s_objects()
    data = {}
    for _, doc in objects:
        if doc["kind"] in ("ConfigMap", "Secret"):
            data[doc["metadata"]["name"]] = set(doc.get("data", {})) | set(doc.get("stringData", {}))
    out = {}
    for name, doc in objects:
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {}).get(
            "template", {}).get("spec")
        for c in (pod or {}).get("containers", []):
            names = {e["name"] for e in c.get("env", [])}
            for src in c.get("envFrom", []):
                ref = src.get("configMapRef") or src.get("secretRef")
                assert ref["name"] in data, f"{name}: {ref['name']} is not defined"
                names |= data[ref["name"]]
            out[f"{name}:{c['name']}"] = names
    return out


def test_every_variable_given_to_guahao_is_a_setting():
    settings = setting_names()
    assert {"DATABASE_URL", "GUAHAO_SECRET_KEY", "GUAHAO_WORKER_METRICS_PORT"} <= settings  # the parser works
    for where, names in {**compose_env(), **k8s_env()}.items():
        assert names, where
        unknown = names - settings
        assert not unknown, f"{where}: {sorted(unknown)} are not read by tenants/settings.py"
    docker_env = set()
    for line in (DEPLOY / "Dockerfile").read_text().split("ENV ")[1:]:
        docker_env |= set(re.findall(r"^\s*([A-Z][A-Z0-9_]*)=", line.split("\n\n")[0], re.M))
    guahao_env = {n for n in docker_env if n.startswith(("GUAHAO_", "DATABASE_", "REDIS_", "SENTRY_"))}
    assert guahao_env and guahao_env <= settings


def test_web_and_workers_get_their_database_redis_and_keys():
    needed = {"DATABASE_URL", "DATABASE_APP_URL", "DATABASE_PLATFORM_URL", "REDIS_URL", "GUAHAO_SECRET_KEY",
              "GUAHAO_DATA_KEY"}
    envs = {**compose_env(), **k8s_env()}
    for where in ("app", "worker", "web-deployment.yaml:web", "worker-deployment.yaml:worker"):
        assert needed <= envs[where], (where, needed - envs[where])
    assert "GUAHAO_WORKER_METRICS_PORT" in envs["worker"] and "GUAHAO_WORKER_METRICS_PORT" in envs[
        "worker-deployment.yaml:worker"]
    # The owner's password reaches only the migration and the backups.
    owner = next(d for _, d in k8s_objects() if d["metadata"]["name"] == "guahao-db-owner")
    assert "CHANGE-ME@" in owner["stringData"]["DATABASE_URL"]
    config = next(d for _, d in k8s_objects() if d["kind"] == "ConfigMap")
    assert ":" not in config["data"]["DATABASE_URL"].split("@")[0].split("//")[1], "no password in the ConfigMap"


def test_web_pods_are_ready_on_readyz_alive_on_healthz_and_run_unprivileged():
    probes = (ROOT / "core" / "web" / "probes.py").read_text()
    assert "/readyz" in probes and "/healthz" in probes
    web = next(d for _, d in k8s_objects() if d["kind"] == "Deployment" and d["metadata"]["name"] == "guahao-web")
    pod = web["spec"]["template"]["spec"]
    [c] = pod["containers"]
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["args"][0] == "serve" and c["ports"][0]["containerPort"] == 8000
    assert web["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    for _, doc in k8s_objects():
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {}).get(
            "template", {}).get("spec")
        if not pod:
            continue
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        for c in pod["containers"]:
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
            assert c["securityContext"]["readOnlyRootFilesystem"] is True
            assert {m["mountPath"] for m in c.get("volumeMounts", [])} >= {"/tmp"}, "uvicorn and Python need a /tmp"
            assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    hpa = next(d for _, d in k8s_objects() if d["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "guahao-web"
    pdbs = {d["metadata"]["name"] for _, d in k8s_objects() if d["kind"] == "PodDisruptionBudget"}
    assert pdbs == {"guahao-web", "guahao-worker"}


def test_compose_runs_two_web_containers_two_workers_and_migrates_first():
    services = compose()["services"]
    assert services["app"]["deploy"]["replicas"] == 2 and services["worker"]["deploy"]["replicas"] == 2
    assert services["migrate"]["command"] == ["migrate"]
    for name in ("app", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert {"postgres", "pgbouncer", "redis", "nginx", "prometheus", "grafana"} <= set(services)
    assert "@pgbouncer:" in services["app"]["environment"]["DATABASE_APP_URL"]
    assert "@postgres:" in services["migrate"]["environment"]["DATABASE_URL"]
    # The proxy and the scraper the app is told to believe are the containers at those addresses.
    networks = {n: s.get("networks") for n, s in services.items()}
    assert networks["nginx"]["backend"]["ipv4_address"] == services["app"]["environment"]["GUAHAO_TRUSTED_PROXIES"]
    assert networks["prometheus"]["backend"]["ipv4_address"] == services["app"]["environment"]["GUAHAO_METRICS_ALLOW"]


def test_every_file_compose_mounts_is_in_the_repository_or_made_by_setup():
    made = {line.strip().rstrip("/") for line in (DEPLOY / "compose" / ".gitignore").read_text().splitlines()
            if line.strip()}
    for name, service in compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith("."):
                continue  # a named volume
            path = (DEPLOY / source).resolve()
            assert path.exists() or path.name in made, f"{name}: {source}"
    setup = (DEPLOY / "compose" / "setup.sh").read_text()
    assert "userlist.txt" in setup and "privkey.pem" in setup


# --- monitoring --------------------------------------------------------------------------------


def metric_names() -> set[str]:
    return set(re.findall(r'"(guahao_[a-z_]+)"', (ROOT / "core" / "metrics.py").read_text()))


def test_the_grafana_dashboard_charts_every_metric_and_only_real_ones():
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "guahao.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = set()
    for expr in exprs:
        for name in re.findall(r"\b(guahao_[a-z_]+)", expr):
            used.add(re.sub(r"_(bucket|count|sum)$", "", name))
    known = metric_names()
    assert len(known) >= 10
    assert used <= known, used - known
    assert known <= used, f"not charted: {sorted(known - used)}"
    provisioning = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "dashboards" / "guahao.yml").read_text())
    assert provisioning["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_prometheus_loads_the_alert_rules_and_scrapes_web_and_workers():
    config = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
    mounts = compose()["services"]["prometheus"]["volumes"]
    assert "./prometheus/alerts.yml:" + config["rule_files"][0] + ":ro" in mounts
    targets = {j["job_name"]: j["dns_sd_configs"][0] for j in config["scrape_configs"]}
    assert targets["guahao"]["names"] == ["app"] and targets["guahao"]["port"] == 8000
    assert targets["guahao-worker"]["port"] == int(compose()["services"]["worker"]["environment"]["GUAHAO_WORKER_METRICS_PORT"])
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            for name in re.findall(r"\b(guahao_[a-z_]+)", rule["expr"]):
                assert re.sub(r"_(bucket|count|sum)$", "", name) in metric_names(), rule["alert"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_the_kustomization_renders_valid_objects_in_the_namespace():
    done = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rendered = [d for d in yaml.safe_load_all(done.stdout) if d]
    assert len(rendered) == len(k8s_objects()) - 1  # all but the per-release Job
    for doc in rendered:
        assert doc["metadata"]["namespace"] == "guahao"
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "guahao"
        schema = K8S_KINDS[(doc["apiVersion"], doc["kind"])]
        assert errors(k8s_validator(schema), doc) == [], doc["metadata"]["name"]
    images = {c["image"] for d in rendered for c in _containers(d)}
    assert images == {"registry.example-city.cn/guahao/guahao:0.1.0"}


def _containers(doc: dict) -> list[dict]:
    spec = doc.get("spec", {})
    pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get(
        "spec") or {}
    return pod.get("containers", [])
