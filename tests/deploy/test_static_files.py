"""The deployment files, checked by reading them (CI has no Docker engine; `make docker-smoke` runs them)."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from app.core.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def default_text(name: str, unset: str) -> str:
    """A setting's default as the docs and compose write it: true/false, [], 5 for 5.0, `unset` for None."""
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
    assert services["api"]["ports"] == ["${DLSERVE_PORT:-8000}:8000", "${DLSERVE_GRPC_PORT:-8001}:8001"]  # HTTP, gRPC
    assert services["api-gpu"]["ports"] == ["${DLSERVE_GPU_PORT:-8002}:8000", "${DLSERVE_GPU_GRPC_PORT:-8003}:8001"]


def test_no_two_services_claim_one_host_port(compose):
    # `docker compose --profile gpu --profile monitoring up` starts every service at once.
    def host_port(mapping: str) -> str:
        host = mapping.rsplit(":", 1)[0]
        return host.split(":-", 1)[1].rstrip("}") if host.startswith("${") else host

    claimed = [host_port(m) for service in compose["services"].values() for m in service.get("ports", [])]
    assert len(claimed) == len(set(claimed)), claimed


def test_gpu_service_reserves_an_nvidia_gpu_and_runs_on_cuda(compose):
    gpu = compose["services"]["api-gpu"]
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"] and device["count"] == 1
    assert gpu["environment"]["DEVICE"] == "cuda"
    assert gpu["build"]["args"]["TORCH_INDEX_URL"] == "${CUDA_TORCH_INDEX_URL:-https://pypi.org/simple}"


@pytest.mark.parametrize("name", ["api", "api-gpu"])
def test_api_services_restart_check_readiness_and_mount_models_read_only(compose, name):
    service = compose["services"][name]
    assert service["restart"] == "unless-stopped"
    assert "/health/ready" in " ".join(service["healthcheck"]["test"])
    assert "./models:/srv/models:ro" in service["volumes"]
    assert service["read_only"] is True and service["tmpfs"] == ["/tmp"]  # as deploy/k8s runs it


def test_secrets_come_from_the_environment_not_the_file(compose):
    assert compose["services"]["api"]["environment"]["API_KEY"] == "${API_KEY:-}"


def test_containers_listen_on_every_interface_where_the_app_defaults_to_loopback(compose, dockerfile):
    assert Settings.model_fields["host"].default == "127.0.0.1"  # make serve: reachable from this machine only
    assert compose["services"]["api"]["environment"]["HOST"] == "0.0.0.0"
    assert re.search(r"^ENV .*\n(?:.*\\\n)*\s*HOST=0\.0\.0\.0$", dockerfile, re.M)


def test_compose_defaults_agree_with_the_settings_class(compose):
    for name, value in compose["services"]["api"]["environment"].items():
        if name == "HOST":
            continue  # fixed for the container (the test above)
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
    assert dockerfile.index("RUN useradd") < dockerfile.index("USER ")


def test_dockerfile_installs_dependencies_before_copying_code(dockerfile):
    assert dockerfile.index("-r /tmp/requirements.txt") < dockerfile.index("COPY app")
    assert dockerfile.index("COPY pyproject.toml") < dockerfile.index("COPY app")


def test_torch_is_a_range_for_users_and_pinned_where_this_project_installs(dockerfile):
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    ranged = next(d for d in dependencies if d.startswith("torch"))
    pins = [line for line in (ROOT / "constraints.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert ranged == "torch>=2.6,<3" and "torch==2.13.0" in pins
    makefile = (ROOT / "Makefile").read_text()
    assert "PIP_INSTALL := $(PY) -m pip install --quiet -c constraints.txt" in makefile
    assert makefile.count("$(PIP_INSTALL) -e") == 4 and "pip install --quiet -e" not in makefile


def test_dockerfile_takes_base_image_and_indexes_as_build_args_with_the_pinned_torch(dockerfile):
    assert "ARG BASE_IMAGE=python:3.11-slim" in dockerfile
    assert "ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu" in dockerfile
    assert "ARG PIP_INDEX_URL=https://pypi.org/simple" in dockerfile
    assert '--extra-index-url "$TORCH_INDEX_URL" -c constraints.txt torch' in dockerfile
    assert "-c constraints.txt -r /tmp/requirements.txt" in dockerfile


def test_every_dockerfile_stage_is_used_so_the_classic_builder_builds_nothing_extra(dockerfile):
    """The classic builder (no BuildKit) builds every stage: an unused one would cost a whole torch download."""
    stages = re.findall(r"^FROM \S+ AS (\S+)$", dockerfile, re.M)
    final = stages[-1]
    for stage in stages[:-1]:
        assert f"--from={stage} " in dockerfile, f"stage {stage} is built but never used"
    assert final == "runtime" and len(stages) == 2


def test_the_image_holds_serving_only(dockerfile, compose):
    copied = re.findall(r"^COPY (?:--\S+ )*(\S+) ", dockerfile, re.M)
    assert set(copied) == {
        "constraints.txt",
        "pyproject.toml",
        "app",
        "/opt/venv",
        "/srv/app",
        "models",
    }  # no training/, tests/
    assert "['project']['dependencies']" in dockerfile  # the serving list, not an extra
    for name in ("api", "api-gpu"):
        assert set(compose["services"][name]["build"]["args"]) == {"BASE_IMAGE", "TORCH_INDEX_URL", "PIP_INDEX_URL"}


def test_dockerfile_healthcheck_and_exec_form_command(dockerfile):
    assert re.search(r"^HEALTHCHECK .*\n.*/health/ready", dockerfile, re.M)
    assert 'CMD ["python", "-m", "app"]' in dockerfile
    assert "COPY --chown=dlserve:dlserve models ./models" in dockerfile


def test_dockerignore_keeps_data_venvs_and_caches_out():
    ignored = set((ROOT / ".dockerignore").read_text(encoding="utf-8").split())
    assert {"data", ".venv", "**/__pycache__", ".git", ".env", "training", "tests"} <= ignored


def settings_rows(path: Path) -> dict[str, str]:
    """{NAME: default} of a settings table: rows `| `NAME` | `default` | ...` (or `| `NAME` | unset | ...`)."""
    text = path.read_text(encoding="utf-8")
    return {name: a or b for name, a, b in re.findall(r"^\| `([A-Z_]+)` \| (?:`([^`]*)`|(unset)) \|", text, re.M)}


def test_every_setting_is_in_the_settings_page_with_its_default():
    rows = settings_rows(ROOT / "docs" / "settings.md")
    for name in Settings.model_fields:
        assert name.upper() in rows, f"{name.upper()} is missing from docs/settings.md"
        assert rows[name.upper()] == default_text(name, unset="unset"), name
    assert set(rows) == {name.upper() for name in Settings.model_fields}, (
        "docs/settings.md lists a setting that is gone"
    )


def test_the_readmes_first_settings_are_real_with_their_defaults():
    rows = settings_rows(ROOT / "README.md")
    assert len(rows) == 5
    for name, default in rows.items():
        assert default == default_text(name.lower(), unset="unset"), name
