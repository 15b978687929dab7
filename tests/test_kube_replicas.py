"""Discovery through the Kubernetes API and the per-replica checks, against a simulated cluster (testing/kube_api.py:
a simulated API server on 127.0.0.1, replicas answering Riva's gRPC on 127.0.0.2, 127.0.0.3, ...). Simulation only:
no Kubernetes API server can be installed here."""

from __future__ import annotations

import pytest

from rivaverify.asr.audio import load_pcm16
from rivaverify.kube import discovery, replicas
from testing.kube_api import KubeAPI, Replica, pod
from tests.conftest import ROOT

LABELS = {"app": "riva-api", "release": "riva-api"}
CLIP = load_pcm16(ROOT / "audio" / "en-US_sample.wav")
TEXT = "what is natural language processing"


@pytest.fixture
def cluster(tmp_path):
    """Three replicas of the chart's Deployment; riva-api-c answers a wrong transcript; riva-api-d is not ready
    (OOMKilled, restarted 4 times); a pod of another release is not selected."""
    with Replica("127.0.0.2", TEXT) as a, Replica("127.0.0.3", TEXT) as b, Replica("127.0.0.4", "what is") as c:
        objects = [pod("riva-api-a", a.ip, a.port, LABELS), pod("riva-api-b", b.ip, b.port, LABELS),
                   pod("riva-api-c", c.ip, c.port, LABELS),
                   pod("riva-api-d", "127.0.0.5", 50051, LABELS, ready=False, restarts=4, last="OOMKilled"),
                   pod("other-a", "127.0.0.6", 50051, {"app": "other"})]
        with KubeAPI(objects) as api:
            yield api, discovery.api_client(str(api.kubeconfig(tmp_path)))


def test_discovery_finds_the_selected_pods_with_their_facts(cluster):
    api, client = cluster
    reps = discovery.replicas(client, "riva", "app=riva-api,release=riva-api")
    assert [r.name for r in reps] == ["riva-api-a", "riva-api-b", "riva-api-c", "riva-api-d"]
    assert "labelSelector=app%3Driva-api%2Crelease%3Driva-api" in api.requests[-1]
    a, d = reps[0], reps[3]
    assert a.ready and a.address.startswith("127.0.0.2:") and a.node == "gpu-node-2" and a.gpus == "1"
    assert a.probes["startupProbe"].startswith("exec /bin/grpc_health_probe")
    assert not d.ready and d.restarts == 4 and d.last_termination == "OOMKilled (exit 137)"
    assert "4 restart(s), last terminated OOMKilled (exit 137)" in d.facts()


def test_a_broken_replica_fails_the_check_by_name_while_the_others_pass(cluster):
    _, client = cluster
    reps = discovery.replicas(client, "riva", "app=riva-api")
    verdicts = replicas.each(reps, replicas.transcribes(CLIP, TEXT, "en-US", 0.2), ready_only=True)
    assert [(v.replica, v.ok) for v in verdicts] == [("riva-api-a", True), ("riva-api-b", True), ("riva-api-c", False)]
    msg = replicas.problem(verdicts, "phase 050 Recognize")
    assert "1 of 3 replicas failed: riva-api-c (127.0.0.4:" in msg and "'what is'" in msg and "riva-api-a" not in msg


def test_health_passes_on_every_ready_replica_and_a_not_ready_one_fails_by_name(cluster):
    _, client = cluster
    reps = discovery.replicas(client, "riva", "app=riva-api")
    assert replicas.problem(replicas.each(reps, replicas.health(), ready_only=True), "health") is None
    msg = replicas.problem(replicas.each(reps, replicas.health()), "health")
    assert "riva-api-d" in msg and "OOMKilled" in msg and "1 of 4" in msg
    assert replicas.problem(replicas.each(reps, replicas.model_listed("en-US"), ready_only=True), "listed") is None


def test_an_unreachable_replica_is_named_with_the_grpc_code(tmp_path):
    with Replica("127.0.0.2", TEXT) as a:
        objects = [pod("riva-api-a", a.ip, a.port, LABELS)]
    with KubeAPI(objects) as api:  # the replica has stopped: its address refuses
        reps = discovery.replicas(discovery.api_client(str(api.kubeconfig(tmp_path))), "riva", "app=riva-api")
        msg = replicas.problem(replicas.each(reps, replicas.health(timeout=2)), "health")
    assert "riva-api-a (127.0.0.2:" in msg and ("UNAVAILABLE" in msg or "DEADLINE_EXCEEDED" in msg)


def test_nimservice_and_nimcache_states_and_no_operator(tmp_path):
    objects = [{"apiVersion": "apps.nvidia.com/v1alpha1", "kind": k, "metadata": {"name": "asr", "namespace": "nim"},
                "status": {"state": s}} for k, s in (("NIMService", "NotReady"), ("NIMCache", "InProgress"))]
    with KubeAPI(objects) as api:
        client = discovery.api_client(str(api.kubeconfig(tmp_path)))
        assert discovery.nim_states(client, "nim") == {"NIMService/asr": "NotReady", "NIMCache/asr": "InProgress"}
        api.answer = lambda path: (404, {"kind": "Status", "apiVersion": "v1", "code": 404})
        assert discovery.nim_states(client, "nim") == {}


def test_no_pod_matched_is_a_problem_not_a_pass(cluster):
    _, client = cluster
    assert discovery.replicas(client, "riva", "app=nothing") == []
    assert "no replica to check" in replicas.problem([], "health")


def test_grpc_port_prefers_rivas_over_tritons_grpc():
    chart = {"ports": [{"containerPort": 50051, "name": "speech-grpc"}, {"containerPort": 8001, "name": "grpc"}]}
    nim = {"ports": [{"containerPort": 9000, "name": "api"}, {"containerPort": 50051, "name": "grpc"}]}
    assert discovery.grpc_port(chart) == 50051 and discovery.grpc_port(nim) == 50051
    assert discovery.grpc_port({"ports": [{"containerPort": 8001, "name": "grpc"}]}) == 8001
