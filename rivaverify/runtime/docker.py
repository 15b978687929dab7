"""Docker runtime: a Riva image run like NVIDIA's quick start, through the Docker SDK (DOCKER_HOST honoured).

    docker run --init -p 50051:50051 -p 8000-8002:8000-8002 --ulimit memlock=-1 --ulimit stack=67108864
      --shm-size=1g -v REPO_PARENT:/data [--gpus all] -v SHIM:/opt/riva-verify/shim:ro
      -e PATH=/opt/riva-verify/shim/bin:$IMAGE_PATH IMAGE start-riva --riva-uri=0.0.0.0:50051 --asr_service=true

Launch direct (the seed's fallback): IMAGE tritonserver --model-repository=/data/models ..., then, once Triton is
ready, `docker exec -d C riva_server --asr_service=true ...` (start_api).

Logs stream to spec.log_path; processes and argv are read inside the container; stop() removes it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rivaverify import nim
from rivaverify.runtime.base import ExecResult, LaunchSpec, Proc, Runtime

LABEL = "riva-verify"  # every container this runtime starts carries it
RUN_LABEL = "riva-verify.run"  # and the run's id, so a test can find what a run left behind
SHIM_MOUNT = "/opt/riva-verify/shim"
RIVA_PORTS = {"riva": 50051, "triton_http": 8000, "triton_grpc": 8001, "triton_metrics": 8002,
              "nim_http": nim.HTTP_PORT}
QUICKSTART_ULIMITS = {"memlock": (-1, -1), "stack": (67108864, 67108864)}  # riva_start.sh's --ulimit flags
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MEMLOCK_REFUSED = "error setting rlimit type 8"  # RLIMIT_MEMLOCK, from runc
READY_TIMEOUT_ENV = "RIVALITE_TRITON_READY_TIMEOUT"  # riva-lite's start-riva: Triton's readiness deadline
# The seed's direct launch: riva_server (/opt/riva/bin in Riva's image, on its PATH) with its service flags.
RIVA_SERVER_ARGV = ("riva_server", "--asr_service=true", "--nlp_service=false", "--tts_service=false")
# Its output goes to the container's log: PID 1's stdout and stderr (docker-init's, with --init).
_TO_LOG = 'exec "$@" >/proc/1/fd/1 2>/proc/1/fd/2'
LOGIN_HINT = "run `docker login nvcr.io` (user $oauthtoken, your NGC API key) and try again"

_LIVE: set[DockerRuntime] = set()


class DockerError(RuntimeError):
    """The engine or the image is not usable; the message says what to do."""


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


def image_path(image_env: list[str] | None) -> str:
    """PATH of an image's config (Env list), or Docker's default."""
    for entry in image_env or []:
        if entry.startswith("PATH="):
            return entry[5:]
    return DEFAULT_PATH


def device_requests(gpus: str, gpu_runtime: bool) -> list | None:
    """RIVA__DOCKER_GPUS as the SDK's device requests: all, device ids "0,1", none, or auto (all when the engine
    has the NVIDIA runtime)."""
    from docker.types import DeviceRequest

    if gpus == "all" or (gpus == "auto" and gpu_runtime):
        return [DeviceRequest(count=-1, capabilities=[["gpu"]])]
    if gpus not in ("auto", "none"):
        return [DeviceRequest(device_ids=gpus.split(","), capabilities=[["gpu"]])]
    return None


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
    return ["docker", "exec", "-d", spec.name, "sh", "-c", _TO_LOG, "sh", *spec.api_argv]


def client() -> Any:
    """A Docker client for DOCKER_HOST (unix socket, tcp://, or ssh:// through the system's ssh)."""
    import docker

    ssh = os.environ.get("DOCKER_HOST", "").startswith("ssh://")
    if ssh:
        _close_exited_ssh_quietly()
    try:
        c = docker.from_env(use_ssh_client=ssh)
        c.ping()
    except Exception as exc:  # DockerException, requests errors, ssh failures: all "no engine"
        where = os.environ.get("DOCKER_HOST") or "the local socket"
        raise DockerError(f"no Docker engine reachable at {where} ({exc}): start dockerd, or set DOCKER_HOST "
                          "(ssh://user@gpu-box works)") from None
    return c


def _close_exited_ssh_quietly() -> None:
    """docker-py's ssh:// transport closes a connection by writing to its ssh process' stdin; after an exec the
    engine has often ended that stream and ssh has exited, so the close raises BrokenPipeError once the exec's
    output was read (docker/docker-py#3218, 1 exec in 4-12 here). Such a close only has the process to end."""
    from docker.transport import sshconn

    close = sshconn.SSHSocket.close
    if getattr(close, "quiet", False):
        return

    def quiet_close(sock: Any) -> None:
        try:
            close(sock)
        except BrokenPipeError:
            with contextlib.suppress(OSError):
                sock.proc.stdin.close()
            sock.proc.terminate()
            sock.proc.wait(5)

    quiet_close.quiet = True  # type: ignore[attr-defined]
    sshconn.SSHSocket.close = quiet_close


def ensure_image(c: Any, image: str, log=print) -> Any:
    """The image by name: used as is when present (never pulled then), else pulled; clear error otherwise."""
    import docker

    try:
        return c.images.get(image)
    except docker.errors.ImageNotFound:
        pass
    log(f"pulling {image} (not present on the engine)")
    try:
        return c.images.pull(image)
    except docker.errors.APIError as exc:
        detail = getattr(exc, "explanation", None) or str(exc)
        raise DockerError(f"image {image} is not on the Docker engine and cannot be pulled ({detail}): "
                          f"{LOGIN_HINT}, or `docker pull {image}` yourself, or set RIVA__IMAGE to an image "
                          "that is present (unset: the riva-lite image, built locally)") from None


# Lists /proc inside the container with nothing but sh and cat (Riva's image and riva-lite's both have them):
# per process \036 + /proc/PID/stat + \037 + /proc/PID/cmdline (NUL-separated, as the kernel keeps it).
_PS = r'for d in /proc/[0-9]*; do s=$(cat "$d/stat" 2>/dev/null) || continue; printf "\036%s\037" "$s"; ' \
      r'cat "$d/cmdline" 2>/dev/null; done; printf "\035%s" "$$"'


def parse_ps(raw: bytes) -> list[Proc]:
    """Processes from _PS's output, less the listing shell itself and what it started."""
    body, _, me = raw.rpartition(b"\035")
    me_pid = int(me) if me.strip().isdigit() else -1
    procs = []
    for record in body.split(b"\036")[1:]:
        stat, _, cmd = record.partition(b"\037")
        text = stat.decode(errors="replace")
        if ")" not in text:
            continue
        pid = int(text.split(" (", 1)[0])
        comm = text[text.index("(") + 1:text.rindex(")")]
        fields = text[text.rindex(")") + 2:].split()
        ppid = int(fields[1])
        if fields[0] == "Z" or me_pid in (pid, ppid):
            continue
        argv = [a.decode(errors="replace") for a in cmd.split(b"\0")[:-1]] if cmd else []
        procs.append(Proc(pid, ppid, comm, argv))
    return procs


class DockerRuntime(Runtime):
    name = "docker"

    def __init__(self, docker_client: Any = None) -> None:
        self._client = docker_client
        self.container: Any = None
        self.spec: ContainerSpec | None = None
        self.env: dict[str, str] = {}
        self._exit: int | None = None
        self._logger: threading.Thread | None = None
        self.notes: list[str] = []  # what differs from the quick start, and why

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = client()
        return self._client

    def start(self, spec: LaunchSpec) -> None:
        if self.container is not None:
            raise RuntimeError("this runtime already started a deployment")
        if not isinstance(spec, ContainerSpec):
            raise TypeError("the docker runtime needs a ContainerSpec (rivaverify.runtime.docker.quickstart)")
        img = ensure_image(self.client, spec.image)
        runtimes = self.client.info().get("Runtimes") or {}
        image_env = (img.attrs.get("Config") or {}).get("Env") or []
        kwargs = run_kwargs(spec, image_env, "nvidia" in runtimes)
        self.spec, self.env = spec, dict(kwargs["environment"])  # what we set; the image's own env is not in it
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        spec.log_path.write_bytes(b"")  # one log per deployment: old errors must not be diagnosed
        _LIVE.add(self)
        import docker

        try:
            try:
                self.container = self.client.containers.run(**kwargs)
            except docker.errors.APIError as exc:
                if MEMLOCK_REFUSED not in str(exc):
                    raise
                # An engine without CAP_SYS_RESOURCE (rootless, a sandbox) cannot lift memlock: run without it.
                self._remove_by_name(spec.name)
                self.notes.append(f"the engine refused --ulimit memlock=-1 ({MEMLOCK_REFUSED}); started without "
                                  "it. Riva on a GPU wants it: give dockerd CAP_SYS_RESOURCE and LimitMEMLOCK=infinity")
                with open(spec.log_path, "a") as log:
                    log.write(f"riva-verify: {self.notes[-1]}\n")
                kwargs["ulimits"] = [u for u in kwargs["ulimits"] if u["Name"] != "memlock"]
                self.container = self.client.containers.run(**kwargs)
        except docker.errors.APIError as exc:
            _LIVE.discard(self)
            self._remove_by_name(spec.name)
            raise DockerError(f"docker run of {spec.image} failed: {getattr(exc, 'explanation', None) or exc}. "
                              "Check the ports (`ss -ltnp`), the mounts and the engine's log") from None
        self._logger = threading.Thread(target=self._stream_logs, daemon=True, name="docker-logs")
        self._logger.start()

    def _stream_logs(self) -> None:
        with open(self.spec.log_path, "ab") as out:
            try:
                for chunk in self.container.logs(stream=True, follow=True):
                    out.write(chunk)
                    out.flush()
            except Exception:  # the container went away under us; stop() writes what is left
                pass

    def _remove_by_name(self, name: str) -> None:
        try:
            self.client.containers.get(name).remove(force=True, v=True)
        except Exception:
            pass

    def stop(self, timeout_s: float = 15) -> int | None:
        """docker stop (SIGTERM through --init, SIGKILL after timeout_s), then remove the container."""
        if self.container is None:
            return self._exit
        import docker

        try:
            self.container.stop(timeout=int(timeout_s))
            self._exit = self.container.wait(timeout=timeout_s + 10).get("StatusCode")
        except (docker.errors.NotFound, docker.errors.APIError):
            pass
        except Exception:  # a wait past its deadline: the removal below kills it
            pass
        if self._logger is not None:
            self._logger.join(5)
        try:
            self.container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
        self.container = None
        _LIVE.discard(self)
        return self._exit

    def _state(self) -> dict[str, Any]:
        if self.container is None:
            return {}
        try:
            self.container.reload()
        except Exception:
            return {}
        return self.container.attrs.get("State") or {}

    def alive(self) -> bool:
        return bool(self._state().get("Running"))

    def exit_code(self) -> int | None:
        if self.container is None:
            return self._exit
        state = self._state()
        return None if not state or state.get("Running") else state.get("ExitCode")

    def logs(self, tail_lines: int | None = None) -> str:
        if self.spec is None or not self.spec.log_path.exists():
            return ""
        lines = self.spec.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-tail_lines:] if tail_lines else lines)

    def _exec_raw(self, argv: list[str], timeout_s: float) -> tuple[int, bytes, bytes]:
        if not self.alive():
            return 126, b"", b"the container is not running"
        box: dict[str, Any] = {}

        def run() -> None:
            try:
                box["r"] = self.container.exec_run(argv, demux=True)
            except Exception as exc:
                box["e"] = exc

        t = threading.Thread(target=run, daemon=True)
        t.start()
        t.join(timeout_s)
        if t.is_alive():
            raise TimeoutError(f"docker exec {argv[0]} in {self.spec.name} took more than {timeout_s:g} s")
        if "e" in box:
            return 126, b"", str(box["e"]).encode()
        r = box["r"]
        out, err = r.output if isinstance(r.output, tuple) else (r.output, b"")
        return r.exit_code, out or b"", err or b""

    def exec(self, argv: list[str], timeout_s: float = 30) -> ExecResult:
        rc, out, err = self._exec_raw(argv, timeout_s)
        return ExecResult(rc, out.decode(errors="replace"), err.decode(errors="replace"))

    def processes(self) -> list[Proc]:
        """The container's processes, with their PIDs as seen inside it (what docker:// testinfra sees)."""
        rc, out, err = self._exec_raw(["sh", "-c", _PS], 30)
        if rc != 0 and self.alive():
            raise DockerError(f"cannot list the processes of {self.spec.name} (exit {rc}: {err.decode()[:300]})")
        return parse_ps(out) if rc == 0 else []

    def api_to_start(self) -> list[str]:
        return list(self.spec.api_argv) if self.spec else []

    def start_api(self) -> None:
        """Launch direct: start riva_server in the container (detached, its output in the container's log)."""
        if not self.alive():
            raise DockerError(f"cannot start riva_server: container {self.spec.name} is not running")
        self.container.exec_run(["sh", "-c", _TO_LOG, "sh", *self.spec.api_argv], detach=True)

    def launch_env(self) -> dict[str, str]:
        return dict(self.env)

    def host_url(self) -> str:
        return f"docker://{self.spec.name}" if self.spec else "docker://"

    def ports(self) -> dict[str, int]:
        return dict(self.spec.ports) if self.spec else {}


def leftovers(run_label: str, docker_client: Any = None) -> list[str]:
    """Names of containers (running or not) that carry RUN_LABEL=run_label."""
    c = docker_client or client()
    return [x.name for x in c.containers.list(all=True, filters={"label": f"{RUN_LABEL}={run_label}"})]


@atexit.register
def _stop_all() -> None:
    """No container outlives the interpreter, whatever ended the run."""
    for rt in list(_LIVE):
        try:
            rt.stop(timeout_s=5)
        except Exception:
            pass
