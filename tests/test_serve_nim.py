"""`rivaverify serve`'s run against riva-lite's NIM face (flavor nim): besides the gRPC checks, /v1/health/ready and
one HTTP transcription, through the real command."""

from __future__ import annotations

import uuid

import pytest

from rivaverify import settings as settings_mod
from rivaverify.serve.checks import FAILED, PASSED, Verifier
from tests.test_serve import ServeProcess, by_check

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nim(tmp_path_factory):
    pytest.importorskip("pytriton", reason="riva-lite needs the lite extra: pip install -e '.[lite]'")
    pytest.importorskip("aiohttp", reason="the NIM face needs the lite extra: pip install -e '.[lite]'")
    from testing.local_nim import LocalNim

    folder = tmp_path_factory.mktemp("nim")
    deployment = LocalNim(folder / "cache", folder, env={"NGC_API_KEY": f"nim-key-{uuid.uuid4().hex}",
                                                         "NIM_TAGS_SELECTOR": None, "NIM_MODEL_PROFILE": None})
    deployment.start().wait_ready(120)
    try:
        yield deployment
    finally:
        deployment.stop(60)
    assert deployment.kill_leftovers() == [], "processes outlived rivalite nim"


def test_a_nim_run_adds_http_ready_and_an_http_transcription(nim):
    s = settings_mod.load({"grpc_address": nim.grpc_uri, "target": "endpoint", "flavor": "nim",
                           "nim_http": nim.base_url.removeprefix("http://")})
    run = Verifier(s).run()
    checks = {c.name: c for c in run.checks}
    assert list(checks)[:3] == ["grpc_health", "model_listed", "http_ready"] and "http_transcription" in checks
    assert not [c for c in run.checks if c.status == FAILED], run.checks
    http = checks["http_transcription"]
    assert http.status == PASSED and http.wer <= http.wer_bound and http.latency_s <= http.latency_bound_s, http


def test_serve_with_the_nim_down_over_http_fails_http_ready(nim, tmp_path):
    from rivalite.launcher import free_port

    serve = ServeProcess(nim.grpc_uri, tmp_path, interval=1, env={
        "RIVA__FLAVOR": "nim", "RIVA__NIM_HTTP": f"127.0.0.1:{free_port()}"}).start()
    try:
        body = serve.wait_health(503, 60)
        checks = {c["name"]: c for c in body["last_run"]["checks"]}
        assert checks["http_ready"]["status"] == FAILED and checks["http_ready"]["next_steps"], checks["http_ready"]
        assert checks["recognize"]["status"] == "not run", checks
        m = serve.metrics()
        assert by_check(m["rivaverify_check_success"]) == {"grpc_health": 1.0, "model_listed": 1.0, "http_ready": 0.0}
        assert {labels["flavor"] for labels, _ in m["rivaverify_probe_success"]} == {"nim"}
    finally:
        assert serve.stop() == 0, serve.tail()
