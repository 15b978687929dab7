"""The local runtime: own session, logs, processes, and nothing left behind after stop."""

from __future__ import annotations

import os
import sys
import time

from rivaverify.runtime import LaunchSpec, get
from rivaverify.runtime.local import family, still_running

# A launcher that starts a child which ignores SIGTERM, like a server slow to stop.
LAUNCHER = """
import signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('child up', flush=True); time.sleep(600)"])
print("launcher up", flush=True)
time.sleep(600)
"""


def _wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_start_logs_processes_and_stop_leaves_nothing(tmp_path):
    rt = get("local")
    rt.start(LaunchSpec([sys.executable, "-c", LAUNCHER], dict(os.environ), tmp_path / "logs" / "riva.log",
                        ports={"riva": 50051}))
    try:
        assert _wait_for(lambda: "child up" in rt.logs() and "launcher up" in rt.logs())
        procs = rt.processes()
        assert len(procs) == 2 and all(p.name.startswith("python") for p in procs)
        assert procs[0] in rt.find(procs[0].name) and rt.find("tritonserver") == []
        assert rt.alive() and rt.exit_code() is None
        assert rt.ports() == {"riva": 50051} and rt.host_url() == "local://"
        assert rt.exec(["echo", "hi"]).stdout == "hi\n"
    finally:
        launcher = rt.proc.pid
        before = family(launcher)
        rt.stop(timeout_s=3)
    assert not rt.alive()
    assert len(before) == 2
    assert still_running(before) == [], "a process of the deployment survived stop()"


def test_exit_code_of_a_launcher_that_dies(tmp_path):
    rt = get("local")
    rt.start(LaunchSpec([sys.executable, "-c", "print('bye'); raise SystemExit(3)"], dict(os.environ),
                        tmp_path / "riva.log"))
    assert _wait_for(lambda: not rt.alive())
    assert rt.exit_code() == 3 and rt.logs() == "bye"
    assert rt.stop() == 3
