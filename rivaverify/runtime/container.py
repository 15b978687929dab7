"""A container run like NVIDIA's quick start (or a NIM's documented run line): its spec, the SDK's arguments for it,
and the same as a `docker run` line for the plan and for people.

    docker run --init -p 50051:50051 -p 8000-8002:8000-8002 --ulimit memlock=-1 --ulimit stack=67108864
      --shm-size=1g -v REPO_PARENT:/data [--gpus all] -v SHIM:/opt/riva-verify/shim:ro
      -e PATH=/opt/riva-verify/shim/bin:$IMAGE_PATH IMAGE start-riva --riva-uri=0.0.0.0:50051 --asr_service=true

Launch direct (the seed's fallback, docs/architecture.md): IMAGE tritonserver --model-repository=/data/models ...,
then, once Triton is ready, `docker exec -d C riva_server --asr_service=true ...` (DockerRuntime.start_api).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rivaverify import nim
from rivaverify.runtime.base import LaunchSpec
from rivaverify.runtime.docker_engine import device_requests, image_path

LABEL = "riva-verify"  # every container this runtime starts carries it
RUN_LABEL = "riva-verify.run"  # and the run's id, so a test can find what a run left behind
SHIM_MOUNT = "/opt/riva-verify/shim"
RIVA_PORTS = {"riva": 50051, "triton_http": 8000, "triton_grpc": 8001, "triton_metrics": 8002,
              "nim_http": nim.HTTP_PORT}
QUICKSTART_ULIMITS = {"memlock": (-1, -1), "stack": (67108864, 67108864)}  # riva_start.sh's --ulimit flags
READY_TIMEOUT_ENV = "RIVALITE_TRITON_READY_TIMEOUT"  # riva-lite's start-riva: Triton's readiness deadline
# The seed's direct launch: riva_server (/opt/riva/bin in Riva's image, on its PATH) with its service flags.
RIVA_SERVER_ARGV = ("riva_server", "--asr_service=true", "--nlp_service=false", "--tts_service=false")
# Its output goes to the container's log: PID 1's stdout and stderr (docker-init's, with --init).
TO_LOG = 'exec "$@" >/proc/1/fd/1 2>/proc/1/fd/2'


@dataclass
class ContainerSpec(LaunchSpec):
    image: str = ""
    model_dir: Path | None = None  # host folder mounted at `mount` (read-write, as Riva's quick start)
    mount: str = "/data"
    shim_dir: Path | None = None  # host folder mounted read-only at SHIM_MOUNT; its bin/ goes first on PATH
    shm_size: str = "1g"
    gpus: str = "auto"  # auto, all, none, or device ids "0,1"
    labels: dict[str, str] = field(default_factory=dict)
    name: str = ""
    bind_host: str = "0.0.0.0"
    api_argv: list[str] = field(default_factory=list)  # launch direct: riva_server, started once Triton is ready
    ulimits: dict[str, tuple[int, int]] = field(default_factory=lambda: dict(QUICKSTART_ULIMITS))
    init: bool = True
    secret_env: tuple[str, ...] = ()  # variables passed by name only in the printed run line (-e NGC_API_KEY)


def quickstart(image: str, model_repo: Path, shim_dir: Path | None, log_path: Path, host_ports: dict[str, int],
               mount: str = "/data", launch: str = "start-riva", model_repos_env: bool = False,
               shm_size: str = "1g", gpus: str = "auto", run_label: str | None = None,
               ready_timeout_s: float = 120) -> ContainerSpec:
    """NVIDIA's quick start for `image`: the repository at MOUNT/models, the shim (if any) first on PATH.

    A repository folder named `models` is mounted through its parent (Riva's layout: /data/models); any
    other folder is mounted as MOUNT/models itself.
    """
    model_repo = model_repo.resolve()
    model_dir, inside = (model_repo.parent, mount) if model_repo.name == "models" else (model_repo, f"{mount}/models")
    repo = f"{mount}/models"
    env = {"RIVA_MODEL_REPO": repo}
    if model_repos_env:  # the seed's fallback: launchers that read MODEL_REPOS pass it to tritonserver
        env["MODEL_REPOS"] = f"--model-repository={repo}"
    api_argv: list[str] = []
    if launch in ("tritonserver", "direct"):  # the seed's fallbacks: no launcher, so no shim needed
        argv = ["tritonserver", f"--model-repository={repo}", "--http-port=8000", "--grpc-port=8001",
                "--metrics-port=8002"]
        if launch == "direct":  # and Riva's API beside it, as the seed ran it (riva_server's own defaults)
            api_argv = list(RIVA_SERVER_ARGV)
    else:
        argv = ["start-riva", "--riva-uri=0.0.0.0:50051", "--asr_service=true", "--nlp_service=false",
                "--tts_service=false"]
        env[READY_TIMEOUT_ENV] = f"{ready_timeout_s:g}"  # riva-lite's launcher reads it; Riva ignores it
    run = run_label or uuid.uuid4().hex
    return ContainerSpec(
        argv=argv, env=env, log_path=log_path, ports=dict(host_ports), image=image, model_dir=model_dir,
        mount=inside, shim_dir=shim_dir, shm_size=shm_size, gpus=gpus, labels={LABEL: "1", RUN_LABEL: run},
        name=f"riva-verify-{run[:8]}-{uuid.uuid4().hex[:6]}", api_argv=api_argv)


def nim_run(image: str, cache_dir: Path, log_path: Path, host_ports: dict[str, int], env: dict[str, str],
            gpus: str = "auto", run_label: str | None = None) -> ContainerSpec:
    """NIM's documented run line: the cache at /opt/nim/.cache, --shm-size=8GB, --ulimit nofile=2048:2048, gRPC
    50051 and HTTP 9000 published, NGC_API_KEY and NIM_* in the environment, the image's own command."""
    run = run_label or uuid.uuid4().hex
    return ContainerSpec(
        argv=[], env=dict(env), log_path=log_path, ports=dict(host_ports), image=image, model_dir=cache_dir.resolve(),
        mount=nim.CACHE_IN_CONTAINER, shm_size=nim.SHM_SIZE, gpus=gpus, labels={LABEL: "1", RUN_LABEL: run},
        name=f"riva-verify-nim-{run[:8]}-{uuid.uuid4().hex[:6]}", init=False,
        ulimits={"nofile": (nim.OPEN_FILES, nim.OPEN_FILES)}, secret_env=("NGC_API_KEY",))


def run_kwargs(spec: ContainerSpec, image_env: list[str] | None, gpu_runtime: bool) -> dict[str, Any]:
    """containers.run() keyword arguments for `spec` (the `docker run` flags above)."""
    from docker.types import Mount, Ulimit

    env = dict(spec.env)
    mounts = []
    if spec.model_dir is not None:
        mounts.append(Mount(spec.mount, str(spec.model_dir), type="bind"))
    if spec.shim_dir is not None:
        mounts.append(Mount(SHIM_MOUNT, str(spec.shim_dir), type="bind", read_only=True))
        env["PATH"] = f"{SHIM_MOUNT}/bin:{env.get('PATH') or image_path(image_env)}"
    ports = {f"{RIVA_PORTS[name]}/tcp": (spec.bind_host, port) for name, port in spec.ports.items()
             if name in RIVA_PORTS}
    return {
        "image": spec.image, "command": spec.argv or None, "name": spec.name, "labels": spec.labels,
        "environment": env, "detach": True, "init": spec.init, "ports": ports, "mounts": mounts,
        "shm_size": spec.shm_size, "device_requests": device_requests(spec.gpus, gpu_runtime),
        "ulimits": [Ulimit(name=name, soft=soft, hard=hard) for name, (soft, hard) in spec.ulimits.items()],
    }


def docker_run_argv(spec: ContainerSpec) -> list[str]:
    """The spec as a `docker run` command line (for the plan and for people); PATH as the image's $PATH."""
    argv = ["docker", "run", "-d", *(["--init"] if spec.init else []), "--name", spec.name,
            "--shm-size", spec.shm_size]
    for name, (soft, hard) in spec.ulimits.items():
        argv += ["--ulimit", f"{name}={soft}" if soft == hard else f"{name}={soft}:{hard}"]
    for name, port in spec.ports.items():
        if name in RIVA_PORTS:
            argv += ["-p", f"{port}:{RIVA_PORTS[name]}"]
    if spec.gpus not in ("none", "auto"):  # auto: --gpus all when the engine has the NVIDIA runtime
        argv += ["--gpus", "all" if spec.gpus == "all" else f"device={spec.gpus}"]
    if spec.model_dir is not None:
        argv += ["-v", f"{spec.model_dir}:{spec.mount}"]
    env = dict(spec.env)
    if spec.shim_dir is not None:
        argv += ["-v", f"{spec.shim_dir}:{SHIM_MOUNT}:ro"]
        env["PATH"] = f"{SHIM_MOUNT}/bin:$IMAGE_PATH"
    for k, v in spec.labels.items():
        argv += ["--label", f"{k}={v}"]
    for k, v in env.items():
        argv += ["-e", k if k in spec.secret_env else f"{k}={v}"]
    return argv + [spec.image, *spec.argv]


def api_exec_argv(spec: ContainerSpec) -> list[str]:
    """How launch direct starts riva_server in the running container, as a `docker exec` line."""
    return ["docker", "exec", "-d", spec.name, "sh", "-c", TO_LOG, "sh", *spec.api_argv]
