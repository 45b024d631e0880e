"""The capacity arithmetic of bench/capacity.py (the measuring half needs wrk and runs by hand)."""

import pytest
import yaml

from bench.capacity import SPARE_REPLICAS, TARGET_UTILIZATION, plan
from tests.deploy.live_server import ROOT

MEASURED = {"digit_rps": 2000.0, "poem_rps": 50.0, "rss_mb": 512.0}


def test_each_kind_of_request_takes_its_share_of_a_replica():
    need = plan(MEASURED, digits_per_s=1000, poems_per_s=25, cores=2)
    assert need["busy_replicas"] == pytest.approx(0.5 + 0.5)


def test_replicas_leave_headroom_to_the_autoscaler_target_and_one_spare():
    need = plan(MEASURED, digits_per_s=2000 * 7, poems_per_s=0, cores=2)  # 7 replicas fully busy
    assert need["replicas"] == 10 + SPARE_REPLICAS  # 7 / 0.7 = 10
    assert need["cores"] == 2 * need["replicas"] and need["memory_gb"] == need["replicas"] / 2


def test_the_utilization_target_is_the_autoscalers():
    hpa = yaml.safe_load((ROOT / "deploy/k8s/base/hpa.yaml").read_text())
    assert hpa["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"] == round(TARGET_UTILIZATION * 100)
