"""A child process in a session of its own, logging to a file: started, waited for, stopped with its group.

The one process runner of the project: the local runtime, the gateway phase 070 starts, and the harnesses under
testing/ are built on it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from rivaverify import procfs
from rivaverify.readiness import WaitTimeout, wait_until


class ChildError(RuntimeError):
    """The child exited, or did not log what it was waited for in time."""


class Exited(ChildError):
    def __init__(self, name: str, rc: int, waited_for: str):
        super().__init__(f"{name} exited with {rc} before logging {waited_for!r}")
        self.rc = rc


class NotReady(ChildError):
    pass


# Tied children get SIGTERM when this process dies (Linux PR_SET_PDEATHSIG, kept across exec). It is set by a
# small exec wrapper, never by subprocess's preexec_fn: preexec_fn makes Python fork() instead of vfork(), and a
# fork() of a process with live gRPC runs gRPC's post-fork handler, which restarts its poller thread in the child;
# close_fds then closes that thread's epoll fd and the child aborts before exec ("Epoll1Poller encountered
# epoll_wait error: Bad file descriptor", grpc/grpc#43055, grpcio 1.81+). tests/test_process.py shows both.
_TIED = ("import ctypes, os, signal, sys\n"
         "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)\n"
         "if os.getppid() != int(sys.argv[1]):\n"
         "    sys.exit(143)  # the parent died before the tie was made\n"
         "os.execvp(sys.argv[2], sys.argv[2:])\n")


def tied(argv: list[str]) -> list[str]:
    """`argv` run so that it gets SIGTERM when this process dies (through an exec wrapper; same pid)."""
    return [sys.executable, "-c", _TIED, str(os.getpid()), *argv]


def terminate(proc: subprocess.Popen | None, timeout: float) -> int | None:
    """SIGTERM a process we started (the leader of its own group), wait up to `timeout`, then SIGKILL what is
    left of its group, itself included; its exit status."""
    if proc is None:
        return None
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group outlives its leader: children it did not stop
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    try:  # a signal is delivered after kill() returns: wait until the group is gone
        wait_until(lambda: not procfs.in_group(proc.pid), 5, f"process group {proc.pid} gone")
    except WaitTimeout:
        pass  # a process in uninterruptible sleep: nothing more to do from here
    return proc.returncode


class Child:
    """`Child(argv, log).start(ready="listening on ")`: stdout and stderr to `log`, stdin closed, in its own
    session (so its process group is its pid); `stop()` SIGTERMs it, then SIGKILLs what is left of its group."""

    def __init__(self, argv: list[str], log_path: str | os.PathLike, env: dict[str, str] | None = None,
                 cwd: str | os.PathLike | None = None, name: str | None = None, tied: bool = True):
        """`tied`: the child gets SIGTERM when this process dies (a run killed hard leaves nothing behind)."""
        self.argv, self.log_path, self.env, self.cwd = list(argv), Path(log_path), env, cwd
        self.name = name or Path(self.argv[0]).name
        self.tied = tied
        self.proc: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def start(self, ready: str | None = None, timeout: float = 30) -> Child:
        if self.proc is not None:
            raise ChildError(f"{self.name} was started already (pid {self.proc.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(tied(self.argv) if self.tied else self.argv, env=self.env, cwd=self.cwd,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        if ready is not None:
            self.wait_for(ready, timeout)
        return self

    def lines(self) -> list[str]:
        try:
            return self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.lines()[-lines:])

    def wait_for(self, text: str, timeout: float) -> str:
        """The first log line holding `text`; Exited when the child exits without it, NotReady at the deadline
        (the child keeps running: stop it if it is of no use)."""
        def seen() -> str | None:
            line = next((line for line in self.lines() if text in line), None)
            if line is None and self.proc.poll() is not None:
                line = next((line for line in self.lines() if text in line), None)  # its last words
                if line is None:
                    raise Exited(self.name, self.proc.returncode, text)
            return line

        try:
            return wait_until(seen, timeout, f"{self.name} logging {text!r}")
        except WaitTimeout as exc:
            raise NotReady(str(exc)) from None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def signal(self, sig: int) -> None:
        if self.alive():
            self.proc.send_signal(sig)

    def stop(self, timeout: float = 15) -> int | None:
        """SIGTERM, then SIGKILL of its process group (after `timeout` at most); its exit status."""
        return terminate(self.proc, timeout)

    def __enter__(self) -> Child:
        return self if self.proc is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
