"""Docker runtime: a container (rivaverify/runtime/container.py) started through the Docker SDK (DOCKER_HOST
honoured, rivaverify/runtime/docker_engine.py). Logs stream to spec.log_path; processes and argv are read inside
the container; stop() removes it."""

from __future__ import annotations

import atexit
import threading
from typing import Any

from rivaverify.runtime.base import ExecResult, LaunchSpec, Proc, Runtime
from rivaverify.runtime.container import RUN_LABEL, TO_LOG, ContainerSpec, run_kwargs
from rivaverify.runtime.docker_engine import DockerError, client, ensure_image

MEMLOCK_REFUSED = "error setting rlimit type 8"  # RLIMIT_MEMLOCK, from runc

_LIVE: set[DockerRuntime] = set()


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

    def start_api(self) -> None:
        """Launch direct: start riva_server in the container (detached, its output in the container's log)."""
        if not self.alive():
            raise DockerError(f"cannot start riva_server: container {self.spec.name} is not running")
        self.container.exec_run(["sh", "-c", TO_LOG, "sh", *self.spec.api_argv], detach=True)

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
