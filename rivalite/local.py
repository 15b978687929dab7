"""Run riva-lite as local processes: start-riva (optionally behind the tritonserver shim) on free ports.

Used by the project's tests and benchmarks. Every process it starts carries RIVALITE_RUN_ID=<id> in its
environment (Triton's backend stubs inherit it), so `leftovers()` finds anything that outlived `stop()`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

from rivalite.launcher import READY, free_port

RUN_ID_ENV = "RIVALITE_RUN_ID"


def processes_with(key: str, value: str) -> list[int]:
    """PIDs whose environment holds key=value (this user's processes only)."""
    needle, found = f"{key}={value}".encode(), []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if needle in Path(entry.path, "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def start_riva_command() -> list[str]:
    script = Path(sys.executable).parent / "start-riva"
    return [str(script)] if script.exists() else [sys.executable, "-m", "rivalite.launcher"]


class LocalRiva:
    def __init__(
        self,
        models: str | os.PathLike,
        workdir: str | os.PathLike,
        shim: bool = True,
        args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        ports: dict[str, int] | None = None,
    ):
        """`ports` may fix any of riva, http, grpc, metrics; the others are free ports picked now."""
        self.models, self.workdir, self.shim = Path(models), Path(workdir), shim
        self.run_id = uuid.uuid4().hex
        ports = ports or {}
        self.riva_port, self.http_port, self.grpc_port, self.metrics_port = (
            ports.get(name) or free_port() for name in ("riva", "http", "grpc", "metrics")
        )
        self.riva_uri = f"127.0.0.1:{self.riva_port}"
        self.args, self.extra_env = list(args), dict(env or {})
        self.lines: list[str] = []
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / f"start-riva-{self.run_id[:8]}.log"
        self._changed = threading.Condition()
        self._eof = False

    def command(self) -> list[str]:
        return start_riva_command() + [
            f"--riva-uri={self.riva_uri}",
            f"--triton-http-port={self.http_port}",
            f"--triton-grpc-port={self.grpc_port}",
            f"--triton-metrics-port={self.metrics_port}",
            *self.args,
        ]

    def environment(self) -> dict[str, str]:
        env = {**os.environ, **self.extra_env, RUN_ID_ENV: self.run_id, "RIVA_MODEL_REPO": str(self.models)}
        if self.shim:
            from rivaverify.shim import install

            shim = install(self.workdir / "shim", str(self.models.resolve()))
            env["PATH"] = f"{shim.parent}:{env.get('PATH', os.defpath)}"
        return env

    def start(self) -> LocalRiva:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            self.command(),
            env=self.environment(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
        threading.Thread(target=self._read, daemon=True, name="start-riva-log").start()
        return self

    def _read(self) -> None:
        with open(self.log_path, "w", errors="replace") as log:
            for raw in self.proc.stdout:
                line = raw.decode(errors="replace").rstrip("\n")
                log.write(line + "\n")
                log.flush()
                with self._changed:
                    self.lines.append(line)
                    self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    def wait_for(self, text: str, timeout: float) -> bool:
        """True once a log line holds `text`; False at the deadline or when start-riva exited without it."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(text in line for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    return False
                self._changed.wait(min(left, 0.2))
        return True

    def wait_ready(self, timeout: float = 120) -> LocalRiva:
        if not self.wait_for(READY, timeout):
            tail = "\n".join(self.lines[-40:])
            self.stop()
            raise RuntimeError(
                f"start-riva was not ready within {timeout:.0f}s (log {self.log_path}):\n{tail}"
            )
        return self

    def output(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def tritonserver_pid(self) -> int | None:
        for pid in children(self.proc.pid):
            try:
                if Path(f"/proc/{pid}/exe").resolve().name == "tritonserver":
                    return pid
            except OSError:
                pass
        return None

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM start-riva (it stops its children) and wait; returns its status. See leftovers()."""
        from rivaverify.runtime.local import terminate

        return terminate(self.proc, timeout)

    def leftovers(self) -> list[int]:
        """Processes started for this run that are still alive."""
        return processes_with(RUN_ID_ENV, self.run_id)

    def kill_leftovers(self) -> list[int]:
        left = self.leftovers()
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return left

    def __enter__(self) -> LocalRiva:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        self.kill_leftovers()
