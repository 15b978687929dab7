"""The shim and argv checks inside a pod, through the API's exec (the v4.channel.k8s.io WebSocket), against the
simulated API: its exec runs the check's shell script for real here, with the pod's PATH, and a pod without
exec rights is refused 403. Simulation only."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from rivaverify import shim
from rivaverify.kube import discovery, podexec
from testing.kube_api import KubeAPI, pod

LABELS = {"app": "riva-api"}


def sh(path: str, keep: str | None = None):
    """An exec that runs `sh -c SCRIPT` here with PATH=path; `keep`: only output lines holding it (other
    engineers' tritonservers run on this machine too)."""
    def run(command: list[str]) -> str:
        out = subprocess.run(command, env={**os.environ, "PATH": path}, capture_output=True, text=True,
                             timeout=20).stdout
        return out if keep is None else "".join(line for line in out.splitlines(True) if keep in line)
    return run


def replica(tmp_path, execs: dict, name: str = "riva-api-a"):
    api = KubeAPI([pod(name, "127.0.0.2", 50051, LABELS)], execs)
    api.__enter__()
    client = discovery.api_client(str(api.kubeconfig(tmp_path)))
    return api, client, discovery.replicas(client, "riva", "app=riva-api")[0]


@pytest.fixture
def path_dirs(tmp_path):
    """A shim folder (rivaverify's shim) and a 'real' folder with a tritonserver binary stand-in."""
    shim_dir = shim.install(tmp_path / "overlay", "/data/models").parent
    real = tmp_path / "real"
    real.mkdir()
    (real / "tritonserver").write_text("#!/bin/sh\necho real\n")
    (real / "tritonserver").chmod(0o755)
    return shim_dir, real


def test_the_shim_first_on_the_pods_path_passes_and_the_real_binary_first_fails(tmp_path, path_dirs):
    shim_dir, real = path_dirs
    api, client, r = replica(tmp_path, {"riva-api-a": sh(f"{shim_dir}:{real}:/usr/bin:/bin")})
    try:
        ok, detail = podexec.shim_first(client, r, "riva-speech-api")
        assert ok and f"{shim_dir}/tritonserver" in detail
        api.execs["riva-api-a"] = sh(f"{real}:{shim_dir}:/usr/bin:/bin")
        ok, detail = podexec.shim_first(client, r, "riva-speech-api")
        assert ok is False and detail == f"riva-api-a: first tritonserver on PATH is {real}/tritonserver (not the shim)"
    finally:
        api.__exit__()


def test_the_running_tritonservers_argv_is_read_from_proc(tmp_path):
    fake = tmp_path / "bin" / "tritonserver"
    fake.parent.mkdir()
    shutil.copy("/bin/sh", fake)
    procs = [subprocess.Popen([str(fake), "-c", "sleep 30; true", *args]) for args in
             (["--model-repository=/data/models"], ["--log-verbose=1"])]
    try:
        api, client, r = replica(tmp_path, {"riva-api-a": sh("/usr/bin:/bin", keep=str(tmp_path))})
        try:
            ok, detail = podexec.tritonserver_argv(client, r, "riva-speech-api")
        finally:
            api.__exit__()
    finally:
        for p in procs:
            p.kill()
            p.wait()
    assert ok is False and "[['/data/models'], []]" in detail


def test_a_pod_that_cannot_be_execd_into_skips_with_the_reason(tmp_path):
    api, client, r = replica(tmp_path, {})
    try:
        ok, why = podexec.tritonserver_argv(client, r, "riva-speech-api")
    finally:
        api.__exit__()
    assert ok is None and "not allowed (pods/exec in namespace riva)" in why
