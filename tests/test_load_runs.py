"""locust with our users for real: against the echo server (one process, --processes, master/worker) and
riva-lite (phase 080 through pytest)."""

from __future__ import annotations

import csv
import json
import os
import socket
import subprocess
import sys
import time

import pytest

from rivalite.launcher import free_port
from rivaverify.readiness import wait_until
from testing.fake_riva import FakeRiva
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def echo():
    with FakeRiva() as fake:
        yield fake.address


def locust(tmp_path, *args, timeout=120):
    """A headless run streaming the 4 s sample (so that streams finish within short runs)."""
    clip = tmp_path / "clip.json"
    clip.write_text(json.dumps({"audio_filepath": str(ROOT / "audio" / "en-US_sample.wav"), "duration": 4.152,
                                "text": "what is natural language processing"}) + "\n")
    argv = [sys.executable, "-m", "locust", "-f", str(ROOT / "suites" / "locustfile.py"), "RivaStreamingUser",
            "--headless", "--skip-log", "--json-file", str(tmp_path / "stats"), "--csv", str(tmp_path / "run"),
            "--riva-corpus", str(clip), *args]
    return subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=timeout)


def stats(tmp_path) -> dict:
    return {s["name"]: s for s in json.loads((tmp_path / "stats.json").read_text())}


def test_one_process_fires_an_event_per_response(tmp_path, echo):
    r = locust(tmp_path, "--host", echo, "-u", "3", "-r", "3", "-t", "6s", "--stop-timeout", "10")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    s = stats(tmp_path)
    chunks = s["stream"]["total_content_length"]
    assert s["stream"]["num_requests"] >= 3 and chunks > 0
    # the echo server answers each chunk with a partial and ends with a final after the last chunk
    assert s["partial"]["num_requests"] == chunks and "final" not in s
    assert s["final_after_last_chunk"]["num_requests"] == s["stream"]["num_requests"]


def test_thresholds_turn_into_the_exit_code(tmp_path, echo):
    r = locust(tmp_path, "--host", echo, "-u", "2", "-r", "2", "-t", "4s", "--stop-timeout", "10",
               "--riva-max-p95-partial-ms", "0", "--riva-min-streams", "5")
    assert r.returncode == 1
    out = r.stdout + r.stderr
    assert "riva-verify threshold failed: partial p95" in out and "only 2 streaming users ran at once, 5 wanted" in out


def test_failures_carry_the_grpc_code(tmp_path):
    r = locust(tmp_path, "--host", f"127.0.0.1:{free_port()}", "-u", "1", "-r", "1", "-t", "3s")
    assert r.returncode == 1
    assert stats(tmp_path)["stream"]["num_failures"] > 0
    assert "RivaError('UNAVAILABLE: " in (tmp_path / "run_failures.csv").read_text()


def test_grpcs_target_with_its_certificate(tmp_path, tls_files):
    cert, key = tls_files
    with FakeRiva(tls=(cert, key)) as server:
        port = server.address.rpartition(":")[2]
        r = locust(tmp_path, "--host", f"grpcs://localhost:{port}", "--riva-ssl-cert", str(cert), "-u", "1",
                   "-r", "1", "-t", "5s", "--stop-timeout", "10")
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        assert stats(tmp_path)["final_after_last_chunk"]["num_requests"] >= 1
        plain = locust(tmp_path, "--host", f"localhost:{port}", "-u", "1", "-r", "1", "-t", "3s")
        assert plain.returncode == 1 and "RivaError('UNAVAILABLE: " in (tmp_path / "run_failures.csv").read_text()


def test_users_stopped_mid_stream_are_not_failures(tmp_path, echo):
    """No stop timeout: locust kills the users halfway through their first 4 s stream; the streams are
    cancelled, nothing counts as failed, and the process exits promptly."""
    started = time.monotonic()
    r = locust(tmp_path, "--host", echo, "-u", "3", "-r", "3", "-t", "2s")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert time.monotonic() - started < 30
    s = stats(tmp_path)
    assert s["partial"]["num_requests"] > 0 and s["partial"]["num_failures"] == 0
    assert "stream" not in s or s["stream"]["num_failures"] == 0


def test_processes_run_unchanged(tmp_path, echo):
    r = locust(tmp_path, "--host", echo, "--processes", "2", "-u", "4", "-r", "4", "-t", "6s",
               "--stop-timeout", "10")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    # --json-file is also written (empty) by each forked worker; the CSV is the master's alone
    rows = {row["Name"]: row for row in csv.DictReader((tmp_path / "run_stats.csv").open())}
    assert int(rows["stream"]["Request Count"]) >= 4 and int(rows["stream"]["Failure Count"]) == 0


def test_master_and_worker_run_unchanged(tmp_path, echo):
    port = free_port()
    clip = tmp_path / "clip.json"
    clip.write_text(json.dumps({"audio_filepath": str(ROOT / "audio" / "en-US_sample.wav"), "duration": 4.152,
                                "text": "what is natural language processing"}) + "\n")
    common = [sys.executable, "-m", "locust", "-f", str(ROOT / "suites" / "locustfile.py"), "RivaStreamingUser",
              "--skip-log", "--riva-corpus", str(clip)]
    master = subprocess.Popen(
        [*common, "--master", f"--master-bind-port={port}", "--expect-workers", "1", "--headless",
         "--host", echo, "-u", "2", "-r", "2", "-t", "8s", "--stop-timeout", "10",
         "--json-file", str(tmp_path / "stats")], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    def listening() -> bool:
        assert master.poll() is None, master.communicate()[0][-3000:]
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    wait_until(listening, 60, f"the locust master listening on {port}", interval_s=0.1)
    worker = subprocess.Popen([*common, "--worker", f"--master-port={port}", "--stop-timeout", "10"], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    try:
        out, _ = master.communicate(timeout=90)
        assert master.returncode == 0, out[-3000:]
        assert stats(tmp_path)["stream"]["num_requests"] >= 2
    finally:
        for p in (master, worker):
            if p.poll() is None:
                p.kill()
        worker.wait(10)
