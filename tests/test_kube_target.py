"""RIVA__TARGET=kubernetes: the target class's refusals and its readiness stages, every replica at its own address,
against the simulated cluster (testing/kube_api.py; simulation only)."""

from __future__ import annotations

from rivaverify import settings as s
from rivaverify import targets
from testing.kube_api import KubeAPI, Replica, pod

LABELS = {"app": "riva-api", "release": "riva-api"}


def target(tmp_path, api: KubeAPI | None = None, **opts):
    given = {"target": "kubernetes", "kube_namespace": "riva", "kube_selector": "app=riva-api",
             "ready_timeout_s": 5, **opts}
    if api is not None:
        given["kubeconfig"] = api.kubeconfig(tmp_path)
    return targets.get(s.load(given, env_file=tmp_path / "none.env"))


def results(t) -> dict[str, tuple[bool, str]]:
    return {st.name: st.check() for st in t.stages(None, None)}


def test_the_settings_pick_the_kubernetes_target_and_it_refuses_without_a_selector(tmp_path):
    t = target(tmp_path, kube_selector=None)
    assert t.name == "kubernetes" and not t.deploys and not t.needs_gpu
    assert "RIVA__KUBE_SELECTOR" in t.refusal()
    assert target(tmp_path).refusal() is None


def test_every_replica_passes_when_all_are_healthy(tmp_path):
    with Replica("127.0.0.2", "x") as a, Replica("127.0.0.3", "x") as b:
        with KubeAPI([pod("riva-api-a", a.ip, a.port, LABELS), pod("riva-api-b", b.ip, b.port, LABELS)]) as api:
            got = results(target(tmp_path, api))
    assert all(ok for ok, _ in got.values()), got
    assert "riva-api-a on gpu-node-2: Running, ready" in got["pods found"][1]


def test_a_replica_not_serving_fails_the_stage_by_name(tmp_path):
    with Replica("127.0.0.2", "x") as a, Replica("127.0.0.3", "x", serving=False) as b:
        with KubeAPI([pod("riva-api-a", a.ip, a.port, LABELS), pod("riva-api-b", b.ip, b.port, LABELS)]) as api:
            ok, detail = results(target(tmp_path, api))["grpc health serving on every replica"]
    assert not ok and "1 of 2 replicas failed: riva-api-b (127.0.0.3:" in detail and "NOT_SERVING" in detail


def test_a_crashlooping_replica_fails_readiness_with_its_last_termination(tmp_path):
    with Replica("127.0.0.2", "x") as a:
        objects = [pod("riva-api-a", a.ip, a.port, LABELS),
                   pod("riva-api-b", "127.0.0.3", 50051, LABELS, ready=False, restarts=7, last="OOMKilled")]
        with KubeAPI(objects) as api:
            ok, detail = results(target(tmp_path, api))["every replica ready"]
    assert not ok and "riva-api-b" in detail and "7 restart(s), last terminated OOMKilled (exit 137)" in detail


def test_no_pod_found_says_where_it_looked(tmp_path):
    with KubeAPI([]) as api:
        ok, detail = results(target(tmp_path, api, kube_selector="app=nothing"))["pods found"]
    assert not ok and detail == "no pod in namespace riva matches app=nothing"


def test_inside_each_replica_the_shim_checks_run_or_skip_with_the_reason(tmp_path):
    from rivaverify import shim
    from tests.test_kube_exec import sh

    shim_dir = shim.install(tmp_path / "overlay", "/data/models").parent
    with Replica("127.0.0.2", "x") as a, Replica("127.0.0.3", "x") as b:
        objects = [pod("riva-api-a", a.ip, a.port, LABELS), pod("riva-api-b", b.ip, b.port, LABELS)]
        with KubeAPI(objects, {"riva-api-a": sh(f"{shim_dir}:/usr/bin:/bin")}) as api:
            got = {(r, c): (ok, d) for r, c, ok, d in target(tmp_path, api).inside()}
    assert got[("riva-api-a", "shim first on PATH")][0] is True
    assert got[("riva-api-b", "shim first on PATH")][0] is None
    assert "not allowed (pods/exec" in got[("riva-api-b", "argv")][1]
    assert target(tmp_path, None, flavor="nim").inside() == []


def test_triton_metrics_are_read_from_a_ready_pod_not_the_service(tmp_path):
    with KubeAPI([pod("riva-api-a", "127.0.0.5", 50051, LABELS, ready=False),
                  pod("riva-api-b", "127.0.0.6", 50051, LABELS)]) as api:
        assert target(tmp_path, api).metrics_url() == "http://127.0.0.6:8002/metrics"
    assert target(tmp_path).metrics_url() == "http://localhost:8002/metrics"  # no API: RIVA__HOST's host
