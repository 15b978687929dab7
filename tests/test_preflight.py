"""Preflight facts: parsers on real tool output, and the local host through testinfra."""

from __future__ import annotations

import json
import os
import socket

import pytest
import testinfra

from rivaverify import preflight, procfs
from tests.conftest import ROOT

# nvidia-smi --query-gpu=index,name,driver_version,memory.total,compute_cap --format=csv,noheader,nounits
SMI_CSV = "0, NVIDIA H100 80GB HBM3, 550.54.15, 81559, 9.0\n1, NVIDIA H100 80GB HBM3, 550.54.15, 81559, 9.0\n"
TOPO = """\tGPU0\tGPU1\tNIC0\tCPU Affinity\tNUMA Affinity\tGPU NUMA ID
GPU0\t X \tNV18\tPXB\t0-51\t0\t\tN/A
GPU1\tNV18\t X \tPXB\t0-51\t0\t\tN/A
NIC0\tPXB\tPXB\t X

Legend:
  X    = Self
  NV#  = Connection traversing a bonded set of # NVLinks
"""


def test_parse_gpus():
    gpus = preflight.parse_gpus(SMI_CSV)
    assert gpus[0] == {"index": 0, "name": "NVIDIA H100 80GB HBM3", "driver_version": "550.54.15",
                       "memory_gb": 79.6, "compute_capability": 9.0}
    assert len(gpus) == 2
    with pytest.raises(ValueError, match="unexpected nvidia-smi line"):
        preflight.parse_gpus("garbage")


def test_parse_topology():
    assert preflight.parse_topology(TOPO) == {"GPU0-GPU1": "NV18"}
    # recent drivers underline the header with terminal escapes, also when piped
    underlined = TOPO.replace("\tGPU0\tGPU1", "\x1b[4m\tGPU0\tGPU1", 1).replace("GPU NUMA ID", "GPU NUMA ID\x1b[0m", 1)
    assert preflight.parse_topology(underlined) == {"GPU0-GPU1": "NV18"}


def test_parse_meminfo_and_df():
    mem = preflight.parse_meminfo("MemTotal:       24671232 kB\nMemFree: 1 kB\nMemAvailable:   12335616 kB\n")
    assert mem == pytest.approx({"total_gb": 23.53, "available_gb": 11.76}, abs=0.01)
    df = "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 263174212 1 83886080 22% /\n"
    assert preflight.parse_df(df) == 80.0


@pytest.fixture(scope="module")
def host():
    return testinfra.get_host("local://")


def test_local_host_facts(host, tmp_path):
    facts = preflight.os_facts(host)
    assert facts["os"] == "linux" and facts["cpus"] >= 1 and facts["kernel"]
    assert 0 < preflight.memory(host)["available_gb"] <= preflight.memory(host)["total_gb"]
    where, free = preflight.disk_free_gb(host, str(tmp_path / "not" / "yet"))
    assert where == str(tmp_path) and free > 0


def test_listening_port_and_its_owner(host):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert preflight.listening(host, port)
        assert f"(pid {os.getpid()})" in preflight.port_owner(host, port)
    assert not preflight.listening(host, port)


def test_preflight_suite_names_a_taken_port_and_its_owner(pytester, monkeypatch):
    """Phase 010 against this host, with the Riva port held by this test."""
    from tests.conftest import ROOT

    with socket.socket() as sock:
        sock.bind(("0.0.0.0", 0))
        sock.listen()
        port = sock.getsockname()[1]
        monkeypatch.setenv("RIVA__HOST", f"localhost:{port}")
        monkeypatch.setenv("RIVA__STATE_DIR", str(pytester.path / "state"))
        monkeypatch.setenv("RIVA__REPORTS_DIR", str(pytester.path / "reports"))
        monkeypatch.chdir(ROOT)
        result = pytester.runpytest_subprocess(str(ROOT / "suites" / "test_010_preflight.py"), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4, failed=1, skipped=12)  # Docker, its disk, two NIM checks, eight GPU checks:
    # a GPU-less host
    owner = f"(pid {os.getpid()})"
    result.stdout.fnmatch_lines([f"*ports needed by the deployment are taken: riva grpc {port} by *{owner}*"])
    facts = json.loads((pytester.path / "state" / "010.json").read_text())["facts"]
    assert facts["ports_listening"][f"riva grpc {port}"] is True
    assert facts["os"]["os"] == "linux"


def test_docker_engine_check_skips_a_dry_run_and_says_the_next_step_once(suite_dir, monkeypatch, tmp_path):
    """Phase 010 with target docker and no engine: --dry-run contacts nothing; a real run fails saying once
    what to do."""
    monkeypatch.setenv("RIVA__TARGET", "docker")
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-docker.sock")
    suite_dir.makepyfile(test_010_preflight=(ROOT / "suites" / "test_010_preflight.py").read_text())
    dry = suite_dir.runpytest("-k", "docker_engine", "--dry-run", "-rs", "-p", "no:randomly")
    dry.assert_outcomes(skipped=1)
    dry.stdout.fnmatch_lines(["SKIPPED*test_010_preflight.py:*: dry run"])
    live = suite_dir.runpytest("-k", "docker_engine", "-p", "no:randomly")
    live.assert_outcomes(failed=1)
    live.stdout.fnmatch_lines([f"phase 010 preflight failed: *no Docker engine reachable at unix://{tmp_path}/*"])
    failed = [line for line in live.outlines if line.startswith("phase 010 preflight failed")]
    assert failed[0].count("start dockerd") == 1, failed[0]


def test_riva_process_names():
    assert preflight.is_riva_process("riva_server (pid 12)", [])
    assert preflight.is_riva_process("tritonserver (pid 3)", [])
    assert preflight.is_riva_process("docker-proxy (pid 9)", ["/usr/bin/docker-proxy", "-proto", "tcp"])
    assert preflight.is_riva_process("python3 (pid 7)", ["/v/bin/python3", "-m", "rivalite.server", "--riva_uri=:1"])
    assert preflight.is_riva_process("python3 (pid 7)", ["/v/bin/python3", "/v/bin/rivalite", "serve"])
    assert not preflight.is_riva_process("python3 (pid 7)", ["/v/bin/python3", "-m", "http.server", "50051"])
    assert not preflight.is_riva_process("python3 (pid 7)", ["/v/bin/python3", "/v/bin/rivagateway", "--riva", "x"])
    assert not preflight.is_riva_process("nginx (pid 5)", ["nginx"])


def test_a_port_owners_command_line_is_read_on_the_host():
    host = testinfra.get_host("local://")
    assert preflight.owner_argv(host, f"python3 (pid {os.getpid()})") == procfs.cmdline(os.getpid())
    assert preflight.owner_argv(host, "unknown") == []


def test_endpoint_port_held_by_something_else_fails_naming_it(pytester, monkeypatch):
    """Target endpoint: the port to attach to is held by a process that is no Riva server."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    holder = subprocess.Popen(
        [sys.executable, "-c", "open('/proc/self/comm', 'w').write('nginx'); import socket, sys; s = socket.socket();"
         "s.bind(('127.0.0.1', 0)); s.listen(); print(s.getsockname()[1], flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(holder.stdout.readline())
        for name, value in {"RIVA__TARGET": "endpoint", "RIVA__HOST": f"localhost:{port}",
                            "RIVA__STATE_DIR": str(pytester.path / "state"),
                            "RIVA__REPORTS_DIR": str(pytester.path / "reports")}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.chdir(ROOT)
        result = pytester.runpytest_subprocess(str(ROOT / "suites" / "test_010_preflight.py"), "-p", "no:cacheprovider")
    finally:
        holder.kill()
        holder.wait(10)
    result.stdout.fnmatch_lines([f"*localhost:{port} is held by nginx (pid {holder.pid}), not a Riva server*"])
