"""Local runtime: the launcher as a process here, in its own session; stopped with all it started."""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import time

from rivaverify import procfs
from rivaverify.process import Child
from rivaverify.runtime.base import ExecResult, LaunchSpec, Proc, Runtime

_LIVE: set[LocalRuntime] = set()


class LocalRuntime(Runtime):
    name = "local"

    def __init__(self) -> None:
        self.child: Child | None = None
        self.spec: LaunchSpec | None = None

    @property
    def proc(self) -> subprocess.Popen | None:
        return self.child.proc if self.child is not None else None

    def start(self, spec: LaunchSpec) -> None:
        if self.child is not None:
            raise RuntimeError("this runtime already started a deployment")
        # one log per deployment: old errors must not be diagnosed; atexit stops it (not tied to this thread)
        self.child = Child(spec.argv, spec.log_path, env=spec.env, cwd=spec.cwd, tied=False).start()
        self.spec = spec
        _LIVE.add(self)

    def _signal_all(self, sig: int, pids: list[int] | None = None) -> None:
        for pid in pids if pids is not None else procfs.family(self.proc.pid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout_s: float = 15) -> int | None:
        if self.proc is None:
            return None
        started = procfs.family(self.proc.pid)  # seen now: once the launcher is gone, orphans leave its tree
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the launcher's group: it stops its children itself
        except ProcessLookupError:
            pass
        self._signal_all(signal.SIGCONT, started)  # a stopped process (SIGSTOP) takes its SIGTERM only once resumed
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self._signal_all(signal.SIGKILL, started)
            self.proc.wait(5)
        deadline = time.monotonic() + timeout_s
        while self._left(started) and time.monotonic() < deadline:
            self._signal_all(signal.SIGTERM if time.monotonic() < deadline - 5 else signal.SIGKILL, self._left(started))
            time.sleep(0.1)
        self._signal_all(signal.SIGKILL, self._left(started))
        _LIVE.discard(self)
        return self.proc.returncode

    def _left(self, started: list[int]) -> list[int]:
        """Processes of the deployment still alive: those seen at stop, and any new in its family."""
        return sorted({p for p in started if procfs.alive(p)} | set(procfs.family(self.proc.pid)))

    def alive(self) -> bool:
        return self.child is not None and self.child.alive()

    def exit_code(self) -> int | None:
        return None if self.child is None else self.child.returncode()

    def logs(self, tail_lines: int | None = None) -> str:
        if self.child is None:
            return ""
        lines = self.child.lines()
        return "\n".join(lines[-tail_lines:] if tail_lines else lines)

    def exec(self, argv: list[str], timeout_s: float = 30) -> ExecResult:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
        return ExecResult(r.returncode, r.stdout, r.stderr)

    def processes(self) -> list[Proc]:
        if self.proc is None:
            return []
        out = []
        for pid in procfs.family(self.proc.pid):
            st = procfs.stat(pid)
            if st is not None and st.state != "Z":
                out.append(Proc(pid, st.ppid, st.comm, procfs.cmdline(pid)))
        return out

    def launch_env(self) -> dict[str, str]:
        return dict(self.spec.env) if self.spec else {}

    def host_url(self) -> str:
        return "local://"

    def ports(self) -> dict[str, int]:
        return dict(self.spec.ports) if self.spec else {}


@atexit.register
def _stop_all() -> None:
    """Nothing outlives the interpreter, whatever ended the run."""
    for rt in list(_LIVE):
        rt.stop(timeout_s=5)
