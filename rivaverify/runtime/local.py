"""Local runtime: the launcher as a process here, in its own session; stopped with all it started."""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import time
from pathlib import Path

from rivaverify.runtime.base import ExecResult, LaunchSpec, Proc, Runtime

_LIVE: set[LocalRuntime] = set()


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(comm, ppid, session id) of a live process, or None when it is gone (or a zombie)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return comm, int(fields[1]), int(fields[3])


def cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0")[:-1]]


def _all() -> dict[int, tuple[str, int, int]]:
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                out[int(entry)] = st
    return out


def still_running(pids: list[int]) -> list[int]:
    """Those of `pids` that are alive (not gone, not zombies)."""
    return [p for p in pids if _stat(p) is not None]


def family(root: int) -> list[int]:
    """`root`, its descendants (also those that started sessions of their own) and its session's members."""
    procs = _all()
    keep = {pid for pid, st in procs.items() if st[2] == root}
    if root in procs:
        keep.add(root)
    grew = True
    while grew:
        new = {pid for pid, st in procs.items() if st[1] in keep and pid not in keep}
        keep |= new
        grew = bool(new)
    return sorted(keep)


def terminate(proc: subprocess.Popen | None, timeout: float) -> int | None:
    """SIGTERM a process we started, wait `timeout`, then SIGKILL its process group; its exit status."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode


class LocalRuntime(Runtime):
    name = "local"

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.spec: LaunchSpec | None = None

    def start(self, spec: LaunchSpec) -> None:
        if self.proc is not None:
            raise RuntimeError("this runtime already started a deployment")
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(spec.log_path, "wb") as log:  # one log per deployment: old errors must not be diagnosed
            self.proc = subprocess.Popen(spec.argv, env=spec.env, cwd=spec.cwd, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.spec = spec
        _LIVE.add(self)

    def _signal_all(self, sig: int, pids: list[int] | None = None) -> None:
        for pid in pids if pids is not None else family(self.proc.pid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout_s: float = 15) -> int | None:
        if self.proc is None:
            return None
        started = family(self.proc.pid)  # seen now: once the launcher is gone, orphans leave its tree
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the launcher's group: it stops its children itself
        except ProcessLookupError:
            pass
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
        return sorted(set(still_running(started)) | set(family(self.proc.pid)))

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def exit_code(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def logs(self, tail_lines: int | None = None) -> str:
        if self.spec is None or not self.spec.log_path.exists():
            return ""
        lines = self.spec.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail_lines:] if tail_lines else lines)

    def exec(self, argv: list[str], timeout_s: float = 30) -> ExecResult:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
        return ExecResult(r.returncode, r.stdout, r.stderr)

    def processes(self) -> list[Proc]:
        if self.proc is None:
            return []
        out = []
        for pid in family(self.proc.pid):
            st = _stat(pid)
            if st is not None:
                out.append(Proc(pid, st[1], st[0], cmdline(pid)))
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
