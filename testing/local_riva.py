"""riva-lite as local processes for tests and benchmarks: start-riva (behind the tritonserver shim by default)
on free ports, its log kept in a file.

Every process it starts carries RIVALITE_RUN_ID=<id> in its environment (Triton's backend stubs inherit it), so
`leftovers()` finds anything that outlived `stop()`.
"""

from __future__ import annotations

import os
import signal
import sys
import uuid
from pathlib import Path

from rivalite.launcher import READY, free_port
from rivaverify import procfs, shim
from rivaverify.process import Child, ChildError

RUN_ID_ENV = "RIVALITE_RUN_ID"


def start_riva_command() -> list[str]:
    script = Path(sys.executable).parent / "start-riva"
    return [str(script)] if script.exists() else [sys.executable, "-m", "rivalite.launcher"]


def leftovers(run_id: str) -> list[int]:
    """Live processes whose environment carries RIVALITE_RUN_ID=run_id."""
    return [pid for pid in procfs.with_env(RUN_ID_ENV, run_id) if procfs.alive(pid)]


def kill_leftovers(run_id: str) -> list[int]:
    """SIGKILL what `leftovers` finds; returns it."""
    left = leftovers(run_id)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


class LocalRiva(Child):
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
        super().__init__(self.command(), self.workdir / f"start-riva-{self.run_id[:8]}.log", name="start-riva",
                         tied=False)

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
            installed = shim.install(self.workdir / "shim", str(self.models.resolve()))
            env["PATH"] = f"{installed.parent}:{env.get('PATH', os.defpath)}"
        return env

    def start(self, ready: str | None = None, timeout: float = 30) -> LocalRiva:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env = self.environment()
        super().start(ready, timeout)
        return self

    def wait_for(self, text: str, timeout: float) -> bool:
        """True once a log line holds `text`; False at the deadline or when start-riva exited without it."""
        try:
            super().wait_for(text, timeout)
        except ChildError:
            return False
        return True

    def wait_ready(self, timeout: float = 120) -> LocalRiva:
        if not self.wait_for(READY, timeout):
            tail = self.tail(40)
            self.stop()
            raise RuntimeError(f"start-riva was not ready within {timeout:.0f}s (log {self.log_path}):\n{tail}")
        return self

    def output(self) -> str:
        return "\n".join(self.lines())

    def tritonserver_pid(self) -> int | None:
        for pid in procfs.children(self.proc.pid):
            try:
                if Path(f"/proc/{pid}/exe").resolve().name == "tritonserver":
                    return pid
            except OSError:
                pass
        return None

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM start-riva (it stops its children) and wait; returns its status. See leftovers()."""
        return super().stop(timeout)

    def leftovers(self) -> list[int]:
        """Processes started for this run that are still alive."""
        return leftovers(self.run_id)

    def kill_leftovers(self) -> list[int]:
        return kill_leftovers(self.run_id)

    def __enter__(self) -> LocalRiva:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self.kill_leftovers()
