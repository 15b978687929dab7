"""The local runtime: own session, logs, processes, and nothing left behind after stop."""

from __future__ import annotations

import os
import sys

from rivaverify import procfs
from rivaverify.readiness import wait_until
from rivaverify.runtime import LaunchSpec, get

# A launcher that starts a child which ignores SIGTERM, like a server slow to stop.
LAUNCHER = """
import signal, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('child up', flush=True); time.sleep(600)"])
print("launcher up", flush=True)
time.sleep(600)
"""


def test_start_logs_processes_and_stop_leaves_nothing(tmp_path):
    rt = get("local")
    rt.start(LaunchSpec([sys.executable, "-c", LAUNCHER], dict(os.environ), tmp_path / "logs" / "riva.log",
                        ports={"riva": 50051}))
    try:
        wait_until(lambda: "child up" in rt.logs() and "launcher up" in rt.logs(), 10, "both processes logging")
        procs = rt.processes()
        assert len(procs) == 2 and all(p.name.startswith("python") for p in procs)
        assert procs[0] in rt.find(procs[0].name) and rt.find("tritonserver") == []
        assert rt.alive() and rt.exit_code() is None
        assert rt.ports() == {"riva": 50051} and rt.host_url() == "local://"
        assert rt.exec(["echo", "hi"]).stdout == "hi\n"
    finally:
        launcher = rt.proc.pid
        before = procfs.family(launcher)
        rt.stop(timeout_s=3)
    assert not rt.alive()
    assert len(before) == 2
    assert [p for p in before if procfs.alive(p)] == [], "a process of the deployment survived stop()"


def test_exit_code_of_a_launcher_that_dies(tmp_path):
    rt = get("local")
    rt.start(LaunchSpec([sys.executable, "-c", "print('bye'); raise SystemExit(3)"], dict(os.environ),
                        tmp_path / "riva.log"))
    wait_until(lambda: not rt.alive(), 10, "the launcher exiting")
    assert rt.exit_code() == 3 and rt.logs() == "bye"
    assert rt.stop() == 3
