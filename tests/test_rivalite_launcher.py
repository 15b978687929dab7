"""start-riva as a process: NVIDIA's bug without the shim, and how it stops (nothing left behind).

These launches use an empty model repository (Triton is ready at once), so each costs about a second.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import grpc
import pytest

from rivalite.launcher import EXITED, READY
from rivaverify import procfs
from rivaverify.readiness import wait_until
from testing.local_riva import LocalRiva, start_riva_command

pytest.importorskip("pytriton", reason="riva-lite needs the lite extra: pip install -e '.[lite]'")
from riva.client.proto import health_pb2, health_pb2_grpc  # noqa: E402

pytestmark = pytest.mark.slow
TRITON_ERROR = "error: creating server: Invalid argument - --model-repository must be specified"


@pytest.fixture
def empty_repo(tmp_path) -> Path:
    repo = tmp_path / "models"
    repo.mkdir()
    return repo


def launch(repo, tmp_path, shim=True, args=()) -> LocalRiva:
    return LocalRiva(repo, tmp_path / "run", shim=shim, args=args).start()


def wait_exit(riva: LocalRiva, timeout: float) -> int:
    try:
        return riva.proc.wait(timeout)
    finally:
        riva.stop()
        assert riva.kill_leftovers() == [], "processes outlived start-riva"


def child(riva: LocalRiva, word: str) -> int:
    for pid in procfs.children(riva.proc.pid):
        if word in " ".join(procfs.cmdline(pid)):
            return pid
    raise AssertionError(f"no child of start-riva runs {word}")


def test_bug_without_the_shim(rivalite_models, tmp_path):
    """NVIDIA's start-riva runs tritonserver without --model-repository: Triton refuses at once."""
    riva = launch(rivalite_models, tmp_path, shim=False)
    t0 = time.monotonic()
    code = wait_exit(riva, 30)
    out = riva.output()
    assert code != 0 and time.monotonic() - t0 < 20
    assert TRITON_ERROR in out and EXITED in out
    assert READY not in out and "[SHIM]" not in out


def test_exits_when_the_api_dies(empty_repo, tmp_path):
    riva = launch(empty_repo, tmp_path, args=("--asr_service=false",)).wait_ready(60)
    os.kill(child(riva, "rivalite.server"), signal.SIGKILL)
    t0 = time.monotonic()
    assert wait_exit(riva, 30) != 0
    assert time.monotonic() - t0 < 25
    assert EXITED in riva.output()


def test_exits_when_triton_dies(rivalite_models, tmp_path):
    """Killed Triton leaves its backend stubs and their /dev/shm regions: start-riva removes both."""
    riva = launch(rivalite_models, tmp_path).wait_ready(120)
    triton = riva.tritonserver_pid()
    regions = [
        a
        for pid in procfs.children(triton)
        for a in procfs.cmdline(pid)
        if a.startswith("triton_python_backend_shm_region_")
    ]
    python = [c for c in rivalite_models.glob("*/config.pbtxt") if 'backend: "python"' in c.read_text()]
    assert len(regions) == len(python)  # one stub per Python-backend model
    os.kill(triton, signal.SIGKILL)
    assert wait_exit(riva, 30) != 0
    assert EXITED in riva.output()
    assert [r for r in regions if Path("/dev/shm", r).exists()] == []


def test_children_die_with_the_launcher(empty_repo, tmp_path):
    riva = launch(empty_repo, tmp_path, args=("--asr_service=false",)).wait_ready(60)
    triton = riva.tritonserver_pid()
    riva.proc.send_signal(signal.SIGKILL)  # no chance to clean up: PR_SET_PDEATHSIG does it
    riva.proc.wait(10)
    wait_until(lambda: not riva.leftovers(), 30, "riva-lite's processes dying with their launcher", interval_s=0.2)
    assert riva.leftovers() == [] and not procfs.alive(triton)


def test_sigterm_exits_zero(empty_repo, tmp_path):
    riva = launch(empty_repo, tmp_path).wait_ready(60)
    assert riva.stop(30) == 0
    assert riva.kill_leftovers() == []


def test_tls(empty_repo, tmp_path, tls_files):
    cert, key = tls_files
    riva = launch(empty_repo, tmp_path, args=(f"--ssl_server_cert={cert}", f"--ssl_server_key={key}"))
    try:
        riva.wait_ready(60)
        uri = riva.riva_uri.replace("127.0.0.1", "localhost")
        with grpc.secure_channel(uri, grpc.ssl_channel_credentials(cert.read_bytes())) as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        assert riva.stop(30) == 0
        assert riva.kill_leftovers() == []


def test_a_model_that_fails_to_load(tmp_path):
    repo = tmp_path / "models"
    (repo / "broken" / "1").mkdir(parents=True)
    (repo / "broken" / "config.pbtxt").write_text('name: "other"\nbackend: "python"\n')
    riva = launch(repo, tmp_path)
    assert wait_exit(riva, 60) != 0
    assert EXITED in riva.output() and READY not in riva.output()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--riva-uri=nope"], "must be HOST:PORT"),
        (["--ssl_server_cert=/x.pem"], "needs both"),
        (["--asr_service=maybe"], "expected true or false"),
        (["--triton-http-port=70000"], "out of range"),
    ],
)
def test_bad_arguments(args, message):
    out = subprocess.run([*start_riva_command(), *args], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and message in out.stderr


def test_missing_tls_file(empty_repo, tmp_path):
    riva = launch(
        empty_repo, tmp_path, args=("--ssl_server_cert=/no/cert.pem", "--ssl_server_key=/no/key.pem")
    )
    assert wait_exit(riva, 60) != 0
    assert "cannot read the TLS" in riva.output()


def test_free_ports_come_from_the_range_the_environment_names(monkeypatch):
    """Parallel runs on one host each take their own range (the project's tests: one per xdist worker)."""
    from rivalite import launcher

    monkeypatch.delenv(launcher.PORTS_ENV, raising=False)
    assert launcher.port_range() == launcher.FREE_PORTS
    monkeypatch.setenv(launcher.PORTS_ENV, "21000-21049")
    assert all(21000 <= launcher.free_port() <= 21049 for _ in range(50))
    for bad in ("21000", "70000-70010", "21049-21000", "a-b"):
        monkeypatch.setenv(launcher.PORTS_ENV, bad)
        with pytest.raises(launcher.RivaLiteError, match="RIVALITE_FREE_PORTS=.* is not a port range"):
            launcher.free_port()
