"""The suites with RIVA__TARGET=kubernetes on a simulated cluster: the simulated API (testing/kube_api.py) lists
pods whose IPs are loopback addresses where riva-lite replicas listen (127.0.0.2, 127.0.0.3) and, in the first run,
a third replica broken on purpose (127.0.0.4 answers gRPC health NOT_SERVING): phase 040 fails naming it; without
it, 040 and 050 pass. Simulation only: no Kubernetes API server runs here."""

from __future__ import annotations

import pytest

from testing.kube_api import KubeAPI, Replica, pod
from testing.local_riva import LocalRiva
from tests.test_kube_exec import path_dirs, sh  # noqa: F401 (path_dirs: the fixture, shared)
from tests.test_suites_on_riva_lite import Run, free_ports

pytestmark = pytest.mark.slow
LABELS = {"app": "riva-api", "release": "riva-api"}


@pytest.fixture(scope="module")
def replicas(rivalite_models, tmp_path_factory):
    """Two riva-lite replicas, each on its own loopback address, as two pods of the chart's Deployment."""
    started = []
    try:
        for ip, port in zip(("127.0.0.2", "127.0.0.3"), free_ports(2), strict=True):
            r = LocalRiva(rivalite_models, tmp_path_factory.mktemp("replica"),
                          args=(f"--riva-uri={ip}:{port}", "--triton-ready-timeout=90"))
            started.append(r.start())
            r.address = (ip, port)
        for r in started:
            r.wait_ready(120)
        yield [r.address for r in started]
    finally:
        for r in started:
            r.stop()


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("work")


def run(tmp_path, work_dir, api: KubeAPI, service: tuple[str, int], ready_timeout_s: int = 20) -> Run:
    return Run(tmp_path, work_dir, {
        "RIVA__TARGET": "kubernetes", "RIVA__KUBE_NAMESPACE": "riva", "RIVA__KUBE_SELECTOR": "app=riva-api",
        "RIVA__KUBECONFIG": str(api.kubeconfig(tmp_path)), "RIVA__HOST": f"{service[0]}:{service[1]}",
        "RIVA__READY_TIMEOUT_S": str(ready_timeout_s)})


def test_a_broken_replica_fails_phase_040_by_name_and_healthy_replicas_pass(tmp_path, work_dir, replicas):
    (a_ip, a_port), (b_ip, b_port) = replicas
    healthy = [pod("riva-api-a", a_ip, a_port, LABELS), pod("riva-api-b", b_ip, b_port, LABELS)]
    with Replica("127.0.0.4", "", serving=False) as broken:
        with KubeAPI([*healthy, pod("riva-api-c", broken.ip, broken.port, LABELS)]) as api:
            # the broken replica is waited on until the deadline: a short one (the healthy two are already serving)
            bad = run(tmp_path / "broken", work_dir, api, replicas[0], ready_timeout_s=5)
            result = bad.pytest("-m", "smoke")
    out = result.stdout + result.stderr
    assert result.returncode != 0, out[-4000:]
    assert "riva-api-c (127.0.0.4:" in out and "NOT_SERVING" in out, out[-4000:]
    assert "riva-api-a (" not in out and "riva-api-b (" not in out
    with KubeAPI(healthy) as api:
        good = run(tmp_path / "good", work_dir, api, replicas[1])
        result = good.pytest("-m", "smoke")
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    stages = good.state_of("040")
    assert stages["status"] == "passed" and good.state_of("050")["status"] == "passed"


def test_every_replica_is_transcribed_at_its_own_address_and_a_wrong_one_fails_by_name(tmp_path, work_dir, replicas):
    """Readiness passes on all three (health SERVING, a model listed), but one pod transcribes wrongly: the checks
    that talk to Riva run once per replica (the test id names it), and only that replica's fail."""
    (a_ip, a_port), (b_ip, b_port) = replicas
    healthy = [pod("riva-api-a", a_ip, a_port, LABELS), pod("riva-api-b", b_ip, b_port, LABELS)]
    with Replica("127.0.0.4", "this pod answers other words entirely") as wrong:
        with KubeAPI([*healthy, pod("riva-api-c", wrong.ip, wrong.port, LABELS)]) as api:
            result = run(tmp_path, work_dir, api, replicas[0]).pytest("-m", "smoke", "-rA")
    out = result.stdout
    assert result.returncode == 1, out[-4000:]
    assert "FAILED suites/test_050_smoke.py::test_recognize[riva-api-c]" in out, out[-4000:]  # WER over the bound
    for name in ("riva-api-a", "riva-api-b"):
        assert f"PASSED suites/test_050_smoke.py::test_recognize[{name}]" in out, out[-4000:]
        assert f"PASSED suites/test_040_deploy.py::test_first_inference_answers[{name}]" in out, out[-4000:]


def test_the_shim_is_checked_inside_each_replica_through_exec(tmp_path, work_dir, replicas, path_dirs):  # noqa: F811
    """040's shim test asks the target's own view inside each pod (exec): one pod whose PATH finds the real
    tritonserver first fails it by name; the other passes."""
    shim_dir, real = path_dirs
    (a_ip, a_port), (b_ip, b_port) = replicas
    pods = [pod("riva-api-a", a_ip, a_port, LABELS), pod("riva-api-b", b_ip, b_port, LABELS)]
    execs = {"riva-api-a": sh(f"{shim_dir}:{real}:/usr/bin:/bin"), "riva-api-b": sh(f"{real}:{shim_dir}:/usr/bin:/bin")}
    with KubeAPI(pods, execs) as api:
        result = run(tmp_path, work_dir, api, replicas[0]).pytest("-m", "deploy", "-rA")
    out = result.stdout
    assert "FAILED suites/test_040_deploy.py::test_shim_is_first_on_path" in out, out[-4000:]
    assert "shim first on PATH fails in 1 of 2 replicas" in out and "riva-api-b: first tritonserver on PATH is" in out
