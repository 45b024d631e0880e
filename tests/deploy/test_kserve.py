"""deploy/kserve/inferenceservice.yaml: a KServe custom-container InferenceService, checked offline.

KServe's CRD schema is not bundled anywhere we may use offline, so the KServe part is checked against
the fields its v1beta1 API documents for a predictor, and the container — where almost every mistake
would be — against Kubernetes' own Pod schema, strictly (an unknown or misspelt field fails).
"""

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from app.core.config import Settings
from app.main import create_app
from tests.deploy.test_kubernetes import KUBERNETES_VERSIONS

pytestmark = pytest.mark.k8s

MANIFEST = Path(__file__).resolve().parents[2] / "deploy" / "kserve" / "inferenceservice.yaml"
# v1beta1 PredictorSpec: ComponentExtensionSpec fields plus the PodSpec fields a custom container uses.
PREDICTOR_FIELDS = {"minReplicas", "maxReplicas", "containerConcurrency", "timeout", "scaleTarget", "scaleMetric",
                    "canaryTrafficPercent", "logger", "batcher", "containers", "serviceAccountName", "volumes",
                    "nodeSelector", "tolerations", "affinity", "imagePullSecrets"}  # fmt: skip


@pytest.fixture(scope="module")
def service() -> dict:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


def test_it_is_an_inference_service_with_one_custom_container(service):
    assert service["apiVersion"] == "serving.kserve.io/v1beta1" and service["kind"] == "InferenceService"
    assert set(service) == {"apiVersion", "kind", "metadata", "spec"} and set(service["spec"]) == {"predictor"}
    predictor = service["spec"]["predictor"]
    assert set(predictor) <= PREDICTOR_FIELDS, set(predictor) - PREDICTOR_FIELDS
    assert [c["name"] for c in predictor["containers"]] == ["kserve-container"]
    assert predictor["minReplicas"] <= predictor["maxReplicas"]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_container_is_a_valid_kubernetes_container(service, version):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dlserve"},
           "spec": {"containers": service["spec"]["predictor"]["containers"]}}  # fmt: skip
    kubernetes_validate.validate(pod, version, strict=True)


def test_probes_port_and_settings_match_the_app(service):
    (container,) = service["spec"]["predictor"]["containers"]
    routes = set(create_app(Settings()).openapi()["paths"])
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] in routes
        assert container[probe]["httpGet"]["port"] == container["ports"][0]["containerPort"]
    env = {item["name"]: item["value"] for item in container["env"]}
    assert int(env["PORT"]) == container["ports"][0]["containerPort"] and env["HOST"] == "0.0.0.0"
    assert {name.lower() for name in env} <= set(Settings.model_fields)
    assert env["WORKERS"] == "1"  # a repository load reaches one worker process: one per pod keeps pods whole
