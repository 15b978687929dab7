"""How a deployment is launched and watched until ready, whatever the runtime."""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rivaverify import nim, probes, readiness
from rivaverify.asr import client
from rivaverify.runtime import LaunchSpec, Runtime
from rivaverify.settings import Flavor, Settings


class DeployError(RuntimeError):
    """A deployment could not be started; the message says what to do."""


def riva_lite_command(name: str = "start-riva") -> str:
    """One of riva-lite's commands (start-riva, rivalite): next to this Python (a venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise DeployError(f"{name} not found: install riva-lite (pip install -e '.[lite]')")
    return found


def start_riva_path() -> str:
    return riva_lite_command("start-riva")


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


def nim_local_spec(settings: Settings, cache: Path, log_path: Path) -> LaunchSpec:
    """riva-lite's NIM face in the foreground, configured as NIM's run line configures a NIM."""
    http_port = settings.nim_http_port
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("NIM_")}  # the settings decide, as in docker
    env = {**inherited, **nim_env(settings, http_port, settings.grpc_port, riva_lite=True),
           "NIM_CACHE_PATH": str(cache)}
    argv = [riva_lite_command("rivalite"), "nim", f"--triton-http-port={settings.triton_http_port}",
            f"--triton-grpc-port={settings.triton_grpc_port}", f"--triton-metrics-port={settings.triton_metrics_port}",
            f"--ready-timeout={settings.ready_timeout_s or 180:g}"]
    return LaunchSpec(argv, env, log_path, {**settings.triton_ports(), "nim_http": http_port})


@dataclass
class Deployment:
    target: str
    grpc_address: str  # Riva's gRPC HOST:PORT
    auth: Any  # riva.client.Auth to it
    runtime: Runtime | None  # None: an endpoint this run did not start
    model_repo: str | None  # the repository as tritonserver sees it
    shim: bool
    triton_http: str | None
    nim_http: str | None = None  # a NIM's HTTP API base URL; None: a classic deployment
    cache: str | None = None  # a NIM's cache when it started: "cold" (empty, filled now) or "warm" (reused)
    readiness: readiness.Readiness | None = None
    ready_s: float | None = None

    def log_tail(self, lines: int = 60) -> str:
        return self.runtime.logs(lines) if self.runtime is not None else ""


def deployment(settings: Settings, runtime: Runtime | None = None, model_repo: str | None = None,
               triton_host: str | None = None) -> Deployment:
    """The deployment the settings describe: started by `runtime` (None: an endpoint attached to), Triton's HTTP
    on `triton_host` (default: the gRPC address' host)."""
    triton = triton_host or settings.grpc_host
    nim_http = nim.base_url(settings.nim_http_address) if settings.flavor == Flavor.nim else None
    triton_http = None if nim_http else f"http://{triton}:{settings.triton_http_port}"  # a NIM's Triton is inside
    return Deployment(str(settings.target), settings.grpc_address, riva_auth(settings), runtime, model_repo,
                      settings.shim and nim_http is None, triton_http, nim_http)


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
    if dep.nim_http:  # NIM's order: process, HTTP live, HTTP ready, then Riva's gRPC as for classic
        after = (readiness.Stage("http live", nim.health(dep.nim_http, "live"), timeout_s),
                 readiness.Stage("http ready", nim.health(dep.nim_http, "ready"), timeout_s), *after)
    stages = probes.stages(
        launcher_alive(rt, triton=not dep.nim_http) if rt is not None else None, dep.triton_http, expected_models,
        dep.auth, language_code, model_name, timeout_s, triton_optional=rt is None, after_triton=after)
    start = time.monotonic()
    dep.readiness = readiness.wait(stages, abort=abort)
    dep.ready_s = time.monotonic() - start
    return dep.readiness


def riva_auth(settings: Settings) -> Any:
    api_key = settings.api_key.get_secret_value() if settings.api_key else None
    return client.auth(settings.grpc_address, str(settings.ssl_cert) if settings.ssl_cert else None, api_key)
