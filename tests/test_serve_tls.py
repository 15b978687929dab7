"""`rivaverify serve` in front of riva-lite serving TLS and requiring an API key: RIVA__SSL_CERT and RIVA__API_KEY
pass; a wrong key fails the listing with UNAUTHENTICATED; no key ever appears in /healthz, /metrics, the page or
serve's log."""

from __future__ import annotations

import uuid

import pytest
import requests

from rivaverify.serve.checks import FAILED, PASSED
from tests.test_serve import ServeProcess

pytestmark = pytest.mark.slow
KEY = f"serve-key-{uuid.uuid4().hex}"


@pytest.fixture(scope="module")
def tls_riva(rivalite_models, tls_files, tmp_path_factory):
    from testing.local_riva import LocalRiva

    cert, key = tls_files
    args = ("--triton-ready-timeout=90", f"--ssl_server_cert={cert}", f"--ssl_server_key={key}")
    with LocalRiva(rivalite_models, tmp_path_factory.mktemp("tls-riva"), env={"RIVA_API_KEY": KEY}, args=args) as riva:
        yield riva.wait_ready(120)  # stopped after, leftovers killed


def everything(serve: ServeProcess) -> str:
    return "\n".join([requests.get(serve.url + path, timeout=5).text for path in ("/healthz", "/metrics", "/")]
                     + [serve.tail(200)])


@pytest.mark.parametrize("given, passes", [(KEY, True), ("wrong-" + KEY, False)], ids=["right key", "wrong key"])
def test_tls_and_api_key(tls_riva, tls_files, tmp_path, given, passes):
    serve = ServeProcess(tls_riva.riva_uri, tmp_path, interval=1,
                         env={"RIVA__SSL_CERT": str(tls_files[0]), "RIVA__API_KEY": given}).start()
    try:
        body = serve.wait_health(200 if passes else 503, 60)
        checks = {c["name"]: c for c in body["last_run"]["checks"]}
        assert checks["grpc_health"]["status"] == PASSED, checks["grpc_health"]  # TLS: the handshake worked
        if not passes:
            listed = checks["model_listed"]
            assert listed["status"] == FAILED and "UNAUTHENTICATED" in listed["detail"], listed
        seen = everything(serve)
        assert given not in seen and KEY not in seen, "an API key appears in serve's output"
    finally:
        assert serve.stop() == 0, serve.tail()

