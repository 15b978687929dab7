"""The library's process helpers on real processes: the /proc reader, the process runner, wait_until."""

from __future__ import annotations

import os
import sys
import types

import pytest
import testinfra

from rivaverify import baseline, preflight, procfs, shim
from rivaverify.process import Child, Exited, NotReady
from rivaverify.readiness import WaitTimeout, wait_until

# A child that names itself tritonserver (comm), serves nothing, and sleeps with a grandchild.
SLEEPER = """
import os, subprocess, sys, time
open('/proc/self/comm', 'w').write('tritonserver')
subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])
print('up', os.getpid(), flush=True)
time.sleep(600)
"""


def test_child_waits_for_its_line_reads_proc_and_stops_with_its_group(tmp_path):
    child = Child([sys.executable, "-c", SLEEPER, "--http-port=8123"], tmp_path / "c.log",
                  env={**os.environ, "PROBE": "mark-4711"})
    with child.start(ready="up", timeout=20):
        assert child.alive() and child.tail() == f"up {child.pid}"
        wait_until(lambda: len(procfs.family(child.pid)) == 2, 10, "the grandchild started")
        family = procfs.family(child.pid)
        st = procfs.stat(child.pid)
        assert st.comm == "tritonserver" and st.session == child.pid and st.pgrp == child.pid
        assert procfs.cmdline(child.pid)[-1] == "--http-port=8123"
        assert procfs.environ(child.pid)["PROBE"] == "mark-4711"
        assert child.pid in procfs.with_env("PROBE", "mark-4711") and procfs.rss_kb(child.pid) > 0
        assert procfs.children(child.pid) == [p for p in family if p != child.pid]
        host = testinfra.get_host("local://")
        assert shim.tritonservers_serving(host, 8123) == [child.pid] and shim.tritonservers_serving(host, 8124) == []
        assert shim.tritonserver_argv(host, child.pid) == procfs.cmdline(child.pid)
        assert shim.launcher_path(host, child.pid, {})[0] == os.environ["PATH"]
    assert child.returncode() is not None
    assert [p for p in family if procfs.alive(p)] == [], "the group outlived stop()"
    assert procfs.stat(child.pid) is None and procfs.cmdline(child.pid) == [] and procfs.environ(child.pid) == {}


def test_a_tritonserver_gone_between_listing_and_reading_is_skipped(tmp_path):
    """Another deployment's tritonserver may exit after `ps` listed it: the scan skips it, it does not fail."""
    gone = Child([sys.executable, "-c", SLEEPER, "--http-port=8125"], tmp_path / "g.log")
    with gone.start(ready="up", timeout=20):
        pass
    live = Child([sys.executable, "-c", SLEEPER, "--http-port=8125"], tmp_path / "l.log")
    with live.start(ready="up", timeout=20):
        real = testinfra.get_host("local://")

        class Listing:  # the listing as `ps` gave it a moment earlier: the gone pid first
            def filter(self, **_):
                return [types.SimpleNamespace(pid=gone.pid), types.SimpleNamespace(pid=live.pid)]

        host = types.SimpleNamespace(run=real.run, process=Listing())
        assert shim.tritonservers_serving(host, 8125) == [live.pid]
        # and every /proc read through a host answers empty for it, as procfs does here
        assert shim.tritonserver_argv(real, gone.pid) == [] and preflight.open_files_limit(real, gone.pid) is None
        assert preflight.owner_argv(real, f"tritonserver (pid {gone.pid})") == []
        assert preflight.process_rss_mb(real, [gone.pid]) == 0 < preflight.process_rss_mb(real, [live.pid])


def test_a_child_that_exits_or_stays_silent_is_named(tmp_path):
    gone = Child([sys.executable, "-c", "print('no luck'); raise SystemExit(4)"], tmp_path / "a.log", name="quitter")
    with pytest.raises(Exited, match=r"quitter exited with 4 before logging 'ready'") as err:
        gone.start(ready="ready", timeout=20)
    assert err.value.rc == 4 and gone.tail() == "no luck"
    quiet = Child([sys.executable, "-c", "import time; time.sleep(60)"], tmp_path / "b.log", name="mute")
    with pytest.raises(NotReady, match=r"mute logging 'ready': not within 0.3 s"):
        quiet.start(ready="ready", timeout=0.3)
    assert quiet.alive()
    assert quiet.stop(timeout=5) == -15


def test_wait_until_returns_the_value_or_names_what_it_waited_for():
    now = [0.0]
    naps = []

    def sleep(s: float) -> None:
        naps.append(s)
        now[0] += s

    answers = iter([None, "", "here"])
    assert wait_until(lambda: next(answers), 5, "x", interval_s=1, clock=lambda: now[0], sleeper=sleep) == "here"
    assert naps == [1, 1]
    with pytest.raises(WaitTimeout, match=r"the model loaded: not within 2.5 s"):
        wait_until(lambda: False, 2.5, "the model loaded", interval_s=1, clock=lambda: now[0], sleeper=sleep)
    assert naps[-1] == pytest.approx(0.5)  # never past the deadline


def test_baseline_rule_by_unit():
    base = {"wer": {"value": 0.0, "unit": ""}, "rtfx": {"value": 10.0, "unit": "x"},
            "p95": {"value": 100.0, "unit": "ms"}, "text": {"value": "a"}, "only_base": {"value": 1}}
    same = {k: dict(v) for k, v in base.items()}
    assert baseline.regressions(base, same, 0.2) == []
    now = {"wer": {"value": 0.02, "unit": ""}, "rtfx": {"value": 7.9, "unit": "x"},
           "p95": {"value": 121.0, "unit": "ms"}, "text": {"value": "b"}}
    assert baseline.regressions(base, now, 0.2) == ["p95: 100.0 -> 121.0 ms", "rtfx: 10.0 -> 7.9 x",
                                                    "wer: 0.0 -> 0.02 "]
    better = {"wer": {"value": 0.009, "unit": ""}, "rtfx": {"value": 8.1, "unit": "x"},
              "p95": {"value": 119.0, "unit": "ms"}}
    assert baseline.regressions(base, better, 0.2) == []
