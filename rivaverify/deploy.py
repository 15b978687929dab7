"""A deployment as the suites see it, the checks its readiness stages are made of, and waiting for them (what
each target launches, and which stages in which order: rivaverify/targets)."""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rivaverify import readiness
from rivaverify.asr import client
from rivaverify.runtime import Runtime
from rivaverify.settings import Settings


class DeployError(RuntimeError):
    """A deployment could not be started; the message says what to do."""


def riva_lite_command(name: str = "start-riva") -> str:
    """One of riva-lite's commands (start-riva, rivalite): next to this Python (a venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise DeployError(f"{name} not found: install riva-lite (pip install -e '.[lite]')")
    return found


RIVA_LITE_KEY = "riva-lite-downloads-nothing"  # riva-lite only refuses an empty cache without a key, as NIM does


def nim_env(settings: Settings, http_port: int, grpc_port: int, riva_lite: bool) -> dict[str, str]:
    """What NIM's run line passes in the environment: ports, profile selector, the NGC key (never an argument).
    riva-lite downloads nothing, so it gets a stand-in key when none is set; a real NIM gets none."""
    env = {"NIM_HTTP_API_PORT": str(http_port), "NIM_GRPC_API_PORT": str(grpc_port)}
    if settings.nim_tags_selector:
        env["NIM_TAGS_SELECTOR"] = settings.nim_tags_selector
    if settings.ngc_api_key is not None:
        env["NGC_API_KEY"] = settings.ngc_api_key.get_secret_value()
    elif riva_lite:
        env["NGC_API_KEY"] = RIVA_LITE_KEY
    return env


@dataclass
class Deployment:
    target: str
    grpc_address: str  # Riva's gRPC HOST:PORT
    auth: Any  # riva.client.Auth to it
    runtime: Runtime | None  # None: an endpoint this run did not start
    model_repo: str | None  # the repository as tritonserver sees it
    shim: bool
    triton_http: str | None
    nim_url: str | None = None  # a NIM's HTTP API base URL (http://HOST:PORT); None: a classic deployment
    cache: str | None = None  # a NIM's cache when it started: "cold" (empty, filled now) or "warm" (reused)
    readiness: readiness.Readiness | None = None
    ready_s: float | None = None

    def log_tail(self, lines: int = 60) -> str:
        return self.runtime.logs(lines) if self.runtime is not None else ""


def launcher_alive(rt: Runtime, triton: bool = True):
    """The launcher runs and (classic) has started tritonserver; a NIM starts it only once its model is in the
    cache (minutes on a cold start), so there the launcher alone is the stage."""
    def check() -> tuple[bool, str]:
        if not rt.alive():
            return False, f"launcher exited with {rt.exit_code()}"
        names = sorted({p.name for p in rt.processes()})
        return not triton or "tritonserver" in names, f"processes: {names}"

    return check


def api_started(rt: Runtime):
    """Launch direct: start riva_server once (Triton is ready by now; a DockerRuntime's start_api), then see it
    running."""
    started: list[bool] = []

    def check() -> tuple[bool, str]:
        if not started:
            rt.start_api()
            started.append(True)
        if rt.find("riva_server"):
            return True, "riva_server runs"
        return False, "riva_server is not running (its output is in the container's log)"

    return check


def wait_ready(dep: Deployment, stages: list[readiness.Stage]) -> readiness.Readiness:
    """Run the target's readiness stages in order; a launcher that exits stops the wait at once."""
    rt = dep.runtime

    def abort() -> str | None:
        if rt is not None and not rt.alive():
            return f"the launcher exited with {rt.exit_code()}"
        return None

    start = time.monotonic()
    dep.readiness = readiness.wait(stages, abort=abort)
    dep.ready_s = time.monotonic() - start
    return dep.readiness


def riva_auth(settings: Settings, address: str | None = None) -> Any:
    """riva.client.Auth to RIVA__HOST (or another `address`, such as one replica's), with its TLS and API key."""
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    return client.auth(address or settings.grpc_address, str(settings.ssl_cert) if settings.ssl_cert else None,
                       api_key)
