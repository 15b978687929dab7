"""How a deployment is launched and watched until ready, whatever the runtime."""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rivaverify import probes, readiness
from rivaverify.asr import client
from rivaverify.runtime import LaunchSpec, Runtime
from rivaverify.settings import Settings


class DeployError(RuntimeError):
    """A deployment could not be started; the message says what to do."""


def start_riva_path() -> str:
    """riva-lite's launcher: next to this Python (a venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / "start-riva"
    found = str(beside) if beside.exists() else shutil.which("start-riva")
    if not found:
        raise DeployError("start-riva not found: install riva-lite (pip install -e '.[lite]')")
    return found


def local_spec(settings: Settings, model_repo: Path, shim_bin: Path | None, log_path: Path) -> LaunchSpec:
    """start-riva as NVIDIA runs it; the shim's folder first on PATH when there is one."""
    env = dict(os.environ)
    path = env.get("PATH", "")
    env["PATH"] = f"{shim_bin}{os.pathsep}{path}" if shim_bin else path
    env["RIVA_MODEL_REPO"] = str(model_repo)
    argv = [
        start_riva_path(), f"--riva-uri={settings.grpc_address}", "--asr_service=true",
        f"--triton-http-port={settings.triton_http_port}", f"--triton-grpc-port={settings.triton_grpc_port}",
        f"--triton-metrics-port={settings.triton_metrics_port}",
        f"--triton-ready-timeout={settings.ready_timeout_s or 120:g}",
    ]
    return LaunchSpec(argv, env, log_path, settings.triton_ports())


@dataclass
class Deployment:
    target: str
    grpc_address: str  # Riva's gRPC HOST:PORT
    auth: Any  # riva.client.Auth to it
    runtime: Runtime | None  # None: an endpoint this run did not start
    model_repo: str | None  # the repository as tritonserver sees it
    shim: bool
    triton_http: str | None
    readiness: readiness.Readiness | None = None
    ready_s: float | None = None

    def log_tail(self, lines: int = 60) -> str:
        return self.runtime.logs(lines) if self.runtime is not None else ""


def deployment(settings: Settings, runtime: Runtime | None = None, model_repo: str | None = None,
               triton_host: str | None = None) -> Deployment:
    """The deployment the settings describe: started by `runtime` (None: an endpoint attached to), Triton's HTTP
    on `triton_host` (default: the gRPC address' host)."""
    triton = triton_host or settings.grpc_host
    return Deployment(str(settings.target), settings.grpc_address, riva_auth(settings), runtime, model_repo,
                      settings.shim, f"http://{triton}:{settings.triton_http_port}")


def launcher_alive(rt: Runtime):
    def check() -> tuple[bool, str]:
        if not rt.alive():
            return False, f"launcher exited with {rt.exit_code()}"
        names = sorted({p.name for p in rt.processes()})
        return "tritonserver" in names, f"processes: {names}"

    return check


def api_started(rt: Runtime):
    """Launch direct: start riva_server once (Triton is ready by now), then see it running."""
    started: list[bool] = []

    def check() -> tuple[bool, str]:
        if not started:
            rt.start_api()
            started.append(True)
        if rt.find("riva_server"):
            return True, "riva_server runs"
        return False, "riva_server is not running (its output is in the container's log)"

    return check


def wait_ready(dep: Deployment, expected_models: list[str], language_code: str, model_name: str | None,
               timeout_s: float) -> readiness.Readiness:
    """Run the readiness stages; a launcher that exits stops the wait at once."""
    rt = dep.runtime

    def abort() -> str | None:
        if rt is not None and not rt.alive():
            return f"the launcher exited with {rt.exit_code()}"
        return None

    direct = rt is not None and bool(rt.api_to_start())
    after = (readiness.Stage("riva_server started", api_started(rt), min(timeout_s, 30)),) if direct else ()
    stages = probes.stages(
        launcher_alive(rt) if rt is not None else None, dep.triton_http, expected_models, dep.auth,
        language_code, model_name, timeout_s, triton_optional=rt is None, after_triton=after)
    start = time.monotonic()
    dep.readiness = readiness.wait(stages, abort=abort)
    dep.ready_s = time.monotonic() - start
    return dep.readiness


def riva_auth(settings: Settings) -> Any:
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    return client.auth(settings.grpc_address, str(settings.ssl_cert) if settings.ssl_cert else None, api_key)
