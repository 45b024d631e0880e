"""The deployment files are right by construction: checked by reading them (no Docker engine here)."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from app.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def default_text(name: str, unset: str) -> str:
    """A setting's default as the README and compose write it: true/false, [], 5 for 5.0, `unset` for None."""
    field = Settings.model_fields[name]
    value = field.default if field.default_factory is None else field.default_factory()
    if value is None:
        return unset
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "[]" if value == [] else str(value)


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dockerfile():
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def test_compose_has_the_api_the_gpu_profile_and_monitoring(compose):
    services = compose["services"]
    assert set(services) == {"api", "api-gpu", "prometheus"}
    assert "profiles" not in services["api"]  # plain `docker compose up` starts the CPU API
    assert services["api-gpu"]["profiles"] == ["gpu"]
    assert services["prometheus"]["profiles"] == ["monitoring"]
    assert services["api"]["ports"] == ["8000:8000"]


def test_gpu_service_reserves_an_nvidia_gpu_and_runs_on_cuda(compose):
    gpu = compose["services"]["api-gpu"]
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"] and device["count"] == 1
    assert gpu["environment"]["DEVICE"] == "cuda"
    assert gpu["build"]["args"]["TORCH_FLAVOR"] == "cuda"


@pytest.mark.parametrize("name", ["api", "api-gpu"])
def test_api_services_restart_check_readiness_and_mount_models_read_only(compose, name):
    service = compose["services"][name]
    assert service["restart"] == "unless-stopped"
    assert "/health/ready" in " ".join(service["healthcheck"]["test"])
    assert "./models:/srv/models:ro" in service["volumes"]


def test_secrets_come_from_the_environment_not_the_file(compose):
    assert compose["services"]["api"]["environment"]["API_KEY"] == "${API_KEY:-}"


def test_compose_defaults_agree_with_the_settings_class(compose):
    for name, value in compose["services"]["api"]["environment"].items():
        match = re.fullmatch(r"\$\{(\w+):-(.*)\}", str(value))
        assert match, f"{name} should be taken from the environment"
        assert match.group(2) == default_text(match.group(1).lower(), unset=""), name


def test_prometheus_scrapes_the_api_metrics(compose):
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text(encoding="utf-8"))
    job = config["scrape_configs"][0]
    assert job["metrics_path"] == "/metrics"
    assert {"api:8000", "api-gpu:8000"} == {t for c in job["static_configs"] for t in c["targets"]}
    assert "./deploy/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in compose["services"]["prometheus"]["volumes"]


def test_dockerfile_runs_as_a_non_root_user(dockerfile):
    users = re.findall(r"^USER\s+(\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert dockerfile.index("USER ") < dockerfile.index("CMD ")


def test_dockerfile_installs_dependencies_before_copying_code(dockerfile):
    assert dockerfile.index("pip install -r /tmp/requirements.txt") < dockerfile.index(
        "COPY --chown=dlserve:dlserve app"
    )
    assert dockerfile.index("COPY pyproject.toml") < dockerfile.index("COPY --chown=dlserve:dlserve app")


def test_dockerfile_has_cpu_and_cuda_flavours_with_the_pinned_torch(dockerfile):
    pinned = next(
        d
        for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
        if d.startswith("torch")
    )
    assert pinned == "torch==2.13.0"
    assert "FROM base AS torch-cpu" in dockerfile and "FROM base AS torch-cuda" in dockerfile
    assert "--index-url https://download.pytorch.org/whl/cpu torch==2.13.0" in dockerfile
    assert "FROM torch-${TORCH_FLAVOR} AS deps" in dockerfile


def test_dockerfile_healthcheck_and_exec_form_command(dockerfile):
    assert re.search(r"^HEALTHCHECK .*\n.*/health/ready", dockerfile, re.M)
    assert 'CMD ["python", "-m", "app"]' in dockerfile
    assert "COPY --chown=dlserve:dlserve models ./models" in dockerfile


def test_dockerignore_keeps_data_venvs_and_caches_out():
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {"data", ".venv", "**/__pycache__", ".git", ".env"} <= ignored


def test_every_setting_is_in_the_readme_table_with_its_default():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| `([A-Z_]+)` \| `([^`]*)` \|", readme, re.M))
    for name in Settings.model_fields:
        assert name.upper() in rows, f"{name.upper()} is missing from the README's Settings table"
        assert rows[name.upper()] == default_text(name, unset="unset"), name
    assert set(rows) == {name.upper() for name in Settings.model_fields}, "the README lists a setting that is gone"
