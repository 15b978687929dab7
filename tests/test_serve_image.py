"""The serve image as a user runs it: deploy/monitoring/Dockerfile built (here on the riva-lite-deps image, with
wheels from this machine: testing/serve_image.py), riva-lite's image started as Riva's quick start on a docker
network, then `docker run` of the serve image with its own command and RIVA__HOST=riva:50051: /healthz 200 with
the verdict passed, /metrics' success gauge 1, UID 1000, and `docker stop` (SIGTERM) ending it promptly with 0."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from rivaverify import shim
from rivaverify.readiness import wait_until
from rivaverify.runtime import container

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.heavy]  # a docker build: CI's heavy lane
LISTENING = "Riva Conversational AI Server listening on"  # riva_server's line (rivalite.glog.LISTENING)


def docker(*args: str, timeout: float = 120, check: bool = True) -> str:
    r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed (exit {r.returncode}): {r.stderr.strip()}")
    return r.stdout


def logs(name: str) -> str:
    r = subprocess.run(["docker", "logs", "--tail", "40", name], capture_output=True, text=True, timeout=60)
    return r.stdout + r.stderr


@pytest.fixture(scope="module")
def serve_image(riva_lite_image):
    """riva-verify:<key>, built on this checkout's riva-lite-deps image or reused."""
    from rivalite import image
    from testing import serve_image

    started, lines = time.monotonic(), []
    try:
        tag = serve_image.build(f"{image.DEPS_REPOSITORY}:{image.deps_key()}", log=lines.append)
    except serve_image.ServeImageError as exc:
        pytest.fail(f"the serve image did not build: {exc}")
    print(f"serve image {tag}: {time.monotonic() - started:.1f} s ({lines[-1]})")
    return tag


def test_the_serve_image_verifies_riva_lite_and_stops_on_sigterm(serve_image, riva_lite_image, rivalite_models,
                                                                 tmp_path):
    run = uuid.uuid4().hex[:8]
    network, riva, serve = f"rv-serve-net-{run}", f"rv-serve-riva-{run}", f"rv-serve-{run}"
    shim_dir = tmp_path / "shim"
    shim.install(shim_dir, "/data/models")  # start-riva's tritonserver gets the repository, as in the docker target
    image_path = next(e for e in json.loads(docker("image", "inspect", "-f", "{{json .Config.Env}}",
                                                   riva_lite_image)) if e.startswith("PATH="))[5:]
    t0 = time.monotonic()
    docker("network", "create", network)
    try:
        # riva-lite as NVIDIA's quick start runs Riva (the docker target's own line), named riva on the network
        spec = container.quickstart(riva_lite_image, rivalite_models, shim_dir, tmp_path / "riva.log", {}, gpus="none",
                                    run_label=run)
        spec.ulimits.pop("memlock")  # an engine without CAP_SYS_RESOURCE refuses it; the docker target drops it too
        argv = [a.replace("$IMAGE_PATH", image_path) for a in container.docker_run_argv(spec)]
        argv[argv.index("--name") + 1] = riva
        docker(*argv[1:3], "--network", network, "--network-alias", "riva", *argv[3:])
        wait_until(lambda: LISTENING in logs(riva), 120, f"riva-lite's {LISTENING!r}", interval_s=0.5)
        riva_ready = time.monotonic() - t0

        # the serve image as the docs run it: its own command, the deployment's address, the port published
        docker("run", "-d", "--name", serve, "--network", network, "-e", "RIVA__TARGET=endpoint",
               "-e", "RIVA__HOST=riva:50051", "-p", "127.0.0.1::9410", serve_image)
        config = json.loads(docker("inspect", "-f", "{{json .Config}}", serve))
        assert config["User"] == "1000", config["User"]
        assert config["Cmd"] == ["rivaverify", "serve", "--listen", "0.0.0.0:9410"], config["Cmd"]
        port = docker("port", serve, "9410/tcp").split()[0].rpartition(":")[2]
        url = f"http://127.0.0.1:{port}"

        def passed() -> dict | None:
            assert docker("inspect", "-f", "{{.State.Running}}", serve).strip() == "true", \
                f"the serve container exited:\n{logs(serve)}"
            try:
                r = requests.get(f"{url}/healthz", timeout=5)
            except requests.ConnectionError:
                return None  # not listening yet
            body = r.json()
            if body["last_run"] and not body["last_run"]["passed"]:
                raise AssertionError(f"the first run failed: {json.dumps(body, indent=1)[:3000]}\n{logs(serve)}")
            return body if r.status_code == 200 else None

        started = time.monotonic()
        body = wait_until(passed, 90, f"/healthz of the serve container ({url}) answering 200", interval_s=0.5)
        first_pass = time.monotonic() - started
        assert body["verdict"] == "passed" and body["healthy"] and body["target"] == "endpoint", body
        assert [c["status"] for c in body["last_run"]["checks"]] == ["passed"] * 4, body["last_run"]["checks"]
        text = requests.get(f"{url}/metrics", timeout=5).text
        success = [s for f in text_string_to_metric_families(text) for s in f.samples
                   if s.name == "rivaverify_probe_success"]
        assert [s.value for s in success] == [1.0], success
        assert "whisper" in success[0].labels["model"], success[0].labels
        assert docker("exec", serve, "id", "-u").strip() == "1000", "serve runs as UID 1000"

        started = time.monotonic()
        docker("stop", "-t", "10", serve, timeout=60)
        took = time.monotonic() - started
        state = json.loads(docker("inspect", "-f", "{{json .State}}", serve))
        assert state["ExitCode"] == 0 and not state["OOMKilled"], f"{state}\n{logs(serve)}"
        assert took < 5, f"docker stop took {took:.1f} s (SIGTERM should end serve within a second or two)"
        assert "rivaverify serve: stopped" in logs(serve), logs(serve)
        print(f"riva-lite ready {riva_ready:.1f} s; serve /healthz 200 {first_pass:.1f} s after docker run; "
              f"docker stop {took:.2f} s, exit 0")
    finally:
        docker("rm", "-f", serve, riva, check=False, timeout=60)
        docker("network", "rm", network, check=False, timeout=60)
