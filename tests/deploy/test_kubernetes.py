"""The Kubernetes manifests: rendered by kustomize, valid for real Kubernetes versions, and in step with the app.

Rendering uses `kubectl kustomize` (the machines this project runs on have kubectl); validation uses the
Kubernetes OpenAPI schemas bundled in kubernetes-validate (strict: an unknown or misspelt field fails).
"""

import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from app.core.config import Settings
from app.core.metrics import Metrics
from app.main import create_app

pytestmark = pytest.mark.k8s

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
# The oldest and the newest minor version still served by the main cloud providers when this was written.
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
OVERLAYS = ("cpu", "gpu")


def render(folder: Path) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is needed to render deploy/k8s (kubectl kustomize); install kubectl or kustomize")
    result = subprocess.run([kubectl, "kustomize", str(folder)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request) -> tuple[str, dict[str, dict]]:
    return request.param, {doc["kind"]: doc for doc in render(K8S / "overlays" / request.param)}


def container(resources: dict[str, dict]) -> dict:
    (api,) = resources["Deployment"]["spec"]["template"]["spec"]["containers"]
    return api


def env(resources: dict[str, dict]) -> dict[str, dict]:
    return {item["name"]: item for item in container(resources)["env"]}


def test_each_overlay_renders_the_whole_deployment(overlay):
    _, resources = overlay
    assert set(resources) == {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_rendered_manifest_is_valid_for_kubernetes(overlay, version):
    _, resources = overlay
    optional = [yaml.safe_load(path.read_text()) for path in sorted((K8S / "optional").glob("*.yaml"))]
    for document in [*resources.values(), *optional]:
        kubernetes_validate.validate(document, version, strict=True)  # raises with the offending field


def test_the_validator_really_rejects_a_wrong_manifest(overlay):
    _, resources = overlay
    broken = yaml.safe_load(yaml.safe_dump(resources["Deployment"]))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/typo"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_probes_and_ports_are_the_apps_own():
    resources = {doc["kind"]: doc for doc in render(K8S / "overlays" / "cpu")}
    api = container(resources)
    routes = set(create_app(Settings()).openapi()["paths"])
    for probe, path in (("startupProbe", "/health/ready"), ("readinessProbe", "/health/ready"),
                        ("livenessProbe", "/health/live")):  # fmt: skip
        assert api[probe]["httpGet"] == {"path": path, "port": "http"}
        assert path in routes
    port, grpc_port = api["ports"]
    assert port == {"name": "http", "containerPort": Settings.model_fields["port"].default}
    assert grpc_port == {"name": "grpc", "containerPort": Settings.model_fields["grpc_port"].default}
    assert env(resources)["PORT"]["value"] == str(port["containerPort"])
    assert env(resources)["GRPC_PORT"]["value"] == str(grpc_port["containerPort"])
    assert env(resources)["HOST"]["value"] == "0.0.0.0"  # the app's own default is loopback: probes need more
    service_ports = resources["Service"]["spec"]["ports"]
    assert [p["targetPort"] for p in service_ports] == ["http", "grpc"] and service_ports[1]["appProtocol"] == "grpc"
    annotations = resources["Deployment"]["spec"]["template"]["metadata"]["annotations"]
    assert (
        annotations["prometheus.io/port"] == str(port["containerPort"]) and annotations["prometheus.io/path"] in routes
    )


def test_every_environment_variable_is_a_setting_of_the_app(overlay):
    _, resources = overlay
    for name, item in env(resources).items():
        assert name.lower() in Settings.model_fields, f"{name} is not a setting"
        if "value" in item:
            Settings.model_validate({name.lower(): item["value"]})  # the value parses as the app would parse it


def test_stopping_waits_for_the_endpoints_and_the_graceful_timeout(overlay):
    _, resources = overlay
    pod = resources["Deployment"]["spec"]["template"]["spec"]
    pause = float(container(resources)["lifecycle"]["preStop"]["exec"]["command"][1])
    graceful = float(env(resources)["GRACEFUL_TIMEOUT_S"]["value"])
    assert pause > 0 and pod["terminationGracePeriodSeconds"] > pause + graceful


def test_non_root_read_only_root_with_a_writable_tmp(overlay):
    _, resources = overlay
    pod = resources["Deployment"]["spec"]["template"]["spec"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    uid = re.search(r"useradd .*--uid (\d+)", dockerfile).group(1)
    assert pod["securityContext"]["runAsNonRoot"] is True and str(pod["securityContext"]["runAsUser"]) == uid
    api = container(resources)
    assert api["securityContext"]["readOnlyRootFilesystem"] is True
    assert api["securityContext"]["allowPrivilegeEscalation"] is False
    mounts = {mount["mountPath"]: mount["name"] for mount in api["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]]  # jieba's cache and the multi-worker metric files


def test_service_pdb_and_autoscaler_point_at_the_deployment(overlay):
    _, resources = overlay
    deployment = resources["Deployment"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        spec = resources[kind]["spec"]
        selector = spec["selector"] if kind == "Service" else spec["selector"]["matchLabels"]
        assert selector and selector.items() <= pod_labels.items(), kind
    target = resources["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"])
    assert (
        resources["HorizontalPodAutoscaler"]["spec"]["minReplicas"]
        > resources["PodDisruptionBudget"]["spec"]["maxUnavailable"]
    )  # a drain never takes the last pod


def test_the_gpu_overlay_asks_for_one_gpu_and_tolerates_gpu_nodes_and_the_cpu_one_does_not(overlay):
    name, resources = overlay
    api, pod = container(resources), resources["Deployment"]["spec"]["template"]["spec"]
    if name == "gpu":
        assert api["resources"]["limits"]["nvidia.com/gpu"] == 1
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
        assert env(resources)["DEVICE"]["value"] == "cuda" and api["image"].endswith(":cuda")
    else:
        assert "nvidia.com/gpu" not in str(resources) and "tolerations" not in pod
        assert env(resources)["DEVICE"]["value"] == "cpu" and api["image"].endswith(":cpu")
        assert env(resources)["TORCH_THREADS"]["value"] == api["resources"]["requests"]["cpu"]


def test_the_queue_depth_autoscaler_uses_the_metric_the_app_exports():
    (hpa,) = [yaml.safe_load(path.read_text()) for path in (K8S / "optional").glob("hpa-*.yaml")]
    (metric,) = hpa["spec"]["metrics"]
    name = metric["pods"]["metric"]["name"]
    assert name in {m.name for m in Metrics().registry.collect()}
