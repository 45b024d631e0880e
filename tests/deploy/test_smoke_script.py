"""`make docker-smoke`'s parts that run without Docker: its checks, against the real server, and its refusals."""

import os
import subprocess

import pytest

from deploy.smoke_check import BURST, HELD, Smoke
from tests.deploy.live_server import ROOT, serving

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("smoke") / "server.log") as live:
        yield live


def test_the_smoke_checks_fail_when_an_answer_is_wrong(server):
    smoke = Smoke(server.url + "/not-here")  # every call is a 404: nothing may pass
    smoke.every_endpoint()
    assert len(smoke.failures) > 10


def test_the_smoke_checks_pass_on_the_real_service_and_stop_it_under_load(server, capsys):
    smoke = Smoke(server.url)
    smoke.every_endpoint()
    smoke.stop_under_load(f"kill -TERM {server.process.pid}")
    printed = capsys.readouterr().out
    assert smoke.failures == [], printed
    assert f"{HELD} held + {BURST} streaming requests in flight at SIGTERM" in printed
    assert f"{HELD + BURST}/{HELD + BURST} answered whole" in printed and "connections refused" in printed
    assert server.process.wait(timeout=30) == 0


def test_smoke_says_exactly_what_is_missing_without_docker(tmp_path):
    no_docker = tmp_path / "bin"
    no_docker.mkdir()
    for tool in ("bash", "dirname", "python3", "cat"):  # what the script needs before it looks for docker
        os.symlink(subprocess.run(["which", tool], capture_output=True, text=True).stdout.strip(), no_docker / tool)
    result = subprocess.run(["bash", str(ROOT / "deploy" / "smoke.sh")], capture_output=True, text=True,
                            env={"PATH": str(no_docker)}, timeout=30)  # fmt: skip
    assert result.returncode == 2
    assert "docker-smoke cannot run: no docker command" in result.stderr
    assert "deploy/README.md" in result.stderr


def test_the_stop_check_fails_when_requests_in_flight_are_lost(tmp_path, capsys):
    with serving(tmp_path / "server.log") as live:
        smoke = Smoke(live.url)
        smoke.stop_under_load(f"kill -KILL {live.process.pid}")  # no graceful stop: what is in flight is lost
    printed = capsys.readouterr().out
    assert smoke.failures == ["stop during a burst"], printed
    assert f"/{HELD + BURST} answered whole" in printed and "others: [" in printed  # and which, with their answers
