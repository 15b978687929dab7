"""DOCKER_HOST=ssh://… selects a remote engine: here an sshd on 127.0.0.1 in front of this machine's engine, so
the suites go through ssh as they would to a GPU host (the SDK and testinfra's docker:// both use `ssh`)."""

from __future__ import annotations

import getpass
import shutil
import subprocess

import pytest

from rivaverify.readiness import wait_until
from rivaverify.runtime import docker as docker_rt
from tests.test_docker_suites import DockerRun, work_dir  # noqa: F401 - a shared fixture
from tests.test_suites_on_riva_lite import free_ports

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.heavy]  # an sshd, then smoke over it: CI's heavy lane

SSHD = "/usr/sbin/sshd"


@pytest.fixture(scope="module")
def ssh_engine(tmp_path_factory):
    """ssh://USER@127.0.0.1:PORT reaching this machine's engine, and a PATH whose `ssh` has the key."""
    if not shutil.which("sshd") and not shutil.which(SSHD):
        pytest.skip("sshd not found: apt-get install openssh-server")
    d = tmp_path_factory.mktemp("ssh")
    for key in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / key)], check=True, timeout=30)
    (d / "authorized_keys").write_text((d / "client_key.pub").read_text())
    (d / "authorized_keys").chmod(0o600)
    port = free_ports(1)[0]
    (d / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\nAuthorizedKeysFile {d}/authorized_keys\n"
        f"PidFile {d}/sshd.pid\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPermitRootLogin prohibit-password\n")
    (d / "bin").mkdir()
    (d / "bin" / "ssh").write_text(
        f"#!/bin/sh\nexec {shutil.which('ssh')} -i {d}/client_key -o StrictHostKeyChecking=no "
        "-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o BatchMode=yes \"$@\"\n")
    (d / "bin" / "ssh").chmod(0o755)
    subprocess.run(["mkdir", "-p", "/run/sshd"], check=False)
    sshd = subprocess.Popen([shutil.which("sshd") or SSHD, "-D", "-e", "-f", str(d / "sshd_config")],
                            stdout=subprocess.DEVNULL, stderr=open(d / "sshd.log", "w"))
    try:
        def up() -> bool:
            assert sshd.poll() is None, (d / "sshd.log").read_text()
            return (d / "sshd.pid").exists()

        wait_until(up, 20, "sshd writing its pid file")
        yield f"ssh://{getpass.getuser()}@127.0.0.1:{port}", d / "bin"
    finally:
        sshd.terminate()
        sshd.wait(10)


def test_smoke_through_an_ssh_docker_host(tmp_path, work_dir, docker_engine, riva_lite_image, ssh_engine):  # noqa: F811
    url, ssh_bin = ssh_engine
    run = DockerRun(tmp_path, work_dir)
    run.env.update({"DOCKER_HOST": url, "PATH": f"{ssh_bin}:{run.env['PATH']}"})
    result = run.pytest("-m", "smoke")
    assert result.returncode == 0, run.why(result)
    assert run.state_of("010")["facts"]["docker"]["os"] == "linux"
    assert run.state_of("050")["status"] == "passed"
    assert "--model-repository=/data/models" in run.state_of("040")["facts"]["tritonserver_argv"]
    assert docker_rt.leftovers(run.label, docker_engine) == []
