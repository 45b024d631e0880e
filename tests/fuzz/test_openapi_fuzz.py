"""Property-based fuzzing of every operation, generated from the app's own OpenAPI schema (schemathesis).

For each generated request: never a 5xx; every 4xx has the documented `{"detail", "code"}` shape
(`{"error"}` under /v2, the Open Inference Protocol's);
every answer conforms to its response schema. `make test` runs a bounded, fixed set of cases per
operation (FUZZ_EXAMPLES, default 25, derandomized); `make fuzz` runs many more, fresh each run, and
Hypothesis prints the seed of a failure so it can be replayed (`pytest tests/fuzz --hypothesis-seed=N`).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from app.core.config import Settings
from app.main import create_app
from tests.api.conftest import MODELS

pytestmark = pytest.mark.fuzz

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
# make test: the same cases every run, so CI cannot fail by luck; make fuzz (FUZZ_RANDOM=1): new ones each run.
RANDOM = os.environ.get("FUZZ_RANDOM") == "1"
API_KEY = "fuzz-key"  # set, so that schemathesis's authentication checks test the real guard
APP = create_app(Settings(model_dir=MODELS, device="cpu", log_level="warning", api_key=API_KEY))
# The repository's load/unload change what is served (an unloaded model rightly answers 503): they are
# tested on their own (tests/api/test_v2_*), not fuzzed into the middle of every other operation.
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path_regex="^/v2/repository/models/")


@schemathesis.check
def client_errors_have_detail_and_code(ctx, response, case) -> None:
    if 400 <= response.status_code < 500:
        body = response.json()
        if case.path.startswith("/v2"):  # the Open Inference Protocol's own error shape
            if not case.path.endswith("/ready"):  # a "not ready" 400 is the protocol's false, not an error
                assert isinstance(body, dict) and isinstance(body.get("error"), str), f"v2 4xx without error: {body}"
            return
        assert isinstance(body, dict) and {"detail", "code"} <= set(body), f"4xx without detail/code: {body}"
        assert isinstance(body["detail"], str) and isinstance(body["code"], str)


@pytest.fixture(scope="module", autouse=True)
def models_loaded():
    with TestClient(APP):  # runs the lifespan once: schemathesis's own calls then find the models loaded
        yield


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=not RANDOM)
def test_no_operation_answers_5xx_or_an_undocumented_shape(case):
    case.call_and_validate(
        headers={"X-API-Key": API_KEY},
        additional_checks=[client_errors_have_detail_and_code],
        # A schema cannot say "a valid PNG", "784×N bytes" or "characters in the poem vocabulary", so a
        # schema-valid request may rightly be refused; such refusals are still checked for their 4xx shape.
        excluded_checks=[positive_data_acceptance],
    )
